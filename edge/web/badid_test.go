package web

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/perm"
)

// badPathIDs are path ids that cannot exist (issue 12): escaped as they go
// on the wire, and decoded as the server sees them.
var badPathIDs = []struct{ escaped, raw string }{
	{"has%20space", "has space"},
	{strings.Repeat("a", 70), strings.Repeat("a", 70)},
	{"caf%C3%A9", "café"},
	{"%00", "\x00"},
	{strings.Repeat("b", 1000), strings.Repeat("b", 1000)},
	{"x%0Ay", "x\ny"},
	{".hidden", ".hidden"},
}

var sanitizedRE = regexp.MustCompile(`^invalid-id-[0-9a-f]{12}$`)

// pathParams are the wildcards of a route pattern that name ids.
func pathParams(pattern string) []string {
	var out []string
	for _, p := range []string{"id", "uid", "gid", "xid", "sid", "part"} {
		if strings.Contains(pattern, "{"+p+"}") {
			out = append(out, p)
		}
	}
	return out
}

// newRecords reads the audit records after seq (with their target kind).
func (e *testEnv) recordsAfter(seq uint64) []audit.Record {
	e.t.Helper()
	recs, err := e.pol.AuditAfter(context.Background(), seq, 100000)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

func (e *testEnv) head() uint64 {
	seq, _ := e.pol.Head()
	return seq
}

// R16, R19, issue 12: every route with a path id, every id that cannot
// exist. Anonymous callers still get 401 (no route discovery); signed-in
// callers allowed on the route get 400 {"error":"bad id …"}. Either way
// exactly one audit record is written, and its target is sanitized
// (invalid-id-<hash>, never the raw bytes); camera routes record kind
// camera. A well-formed camera id that does not exist is 404 for users who
// may see cameras. Afterwards the whole log goes through a real uplink with
// no placeholder (the uplink is unaffected).
func TestBadPathIDsEveryRoute(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	e.srv.denyL = rate.NewLimiter(rate.Inf, 1)
	tm := e.makeTeam()
	m := perm.NewMatrix()
	roles := []struct {
		name string
		role perm.Role
	}{{"installer", perm.Installer}, {"operator", perm.Operator}, {"admin", perm.Admin}, {"auditor", perm.Auditor}, {"approver", perm.Approver}}
	checked := 0
	for _, rt := range e.srv.routes() {
		params := pathParams(rt.pattern)
		if len(params) == 0 {
			continue
		}
		allowed := ""
		for _, r := range roles {
			if rt.need == permSession || m.Cell(r.role, rt.need) == perm.Allow || (rt.viaGrant && m.Cell(r.role, rt.need) == perm.Grant) || (rt.alt != "" && m.Cell(r.role, rt.alt) == perm.Allow) {
				allowed = r.name
				break
			}
		}
		if allowed == "" {
			t.Fatalf("%s: no role may call it", rt.pattern)
		}
		for _, param := range params {
			for _, bad := range badPathIDs {
				method, path := substitute(strings.ReplaceAll(rt.pattern, "{"+param+"}", "\x01"), tm.ids)
				path = strings.ReplaceAll(path, "\x01", bad.escaped)
				body, ctype := "", ""
				if method == "POST" || method == "PUT" {
					body, ctype = "{}", "application/json"
				}
				check := func(who string, c *http.Cookie) {
					t.Helper()
					before := e.head()
					resp := e.do(method, path, ctype, body, c)
					switch {
					case c == nil && rt.api:
						jsonError(t, resp, http.StatusUnauthorized)
					case c == nil:
						readAll(t, resp)
						if resp.StatusCode != http.StatusSeeOther {
							t.Errorf("anonymous page %s %.60q: %d", rt.pattern, bad.raw, resp.StatusCode)
						}
					case rt.api:
						if msg := jsonError(t, resp, http.StatusBadRequest); !strings.HasPrefix(msg, "bad id") {
							t.Errorf("%s %s %.60q: message %q", who, rt.pattern, bad.raw, msg)
						}
					default:
						readAll(t, resp)
						if resp.StatusCode != http.StatusBadRequest {
							t.Errorf("%s page %s %.60q: %d, want 400", who, rt.pattern, bad.raw, resp.StatusCode)
						}
					}
					recs := e.recordsAfter(before)
					if len(recs) != 1 {
						t.Errorf("%s %s %s=%.60q: %d audit records, want exactly 1: %+v", who, rt.pattern, param, bad.raw, len(recs), recs)
						return
					}
					r := recs[0]
					if !sanitizedRE.MatchString(r.Target) || strings.Contains(r.Target, bad.raw) {
						t.Errorf("%s %s %s=%.60q: audit target %.80q is not sanitized", who, rt.pattern, param, bad.raw, r.Target)
					}
					if rt.camera && param == "id" && r.TargetKind != audit.KindCamera {
						t.Errorf("%s %s: target kind %q, want camera", who, rt.pattern, r.TargetKind)
					}
					checked++
				}
				check("anonymous", nil)
				check(allowed, tm.cookies[allowed])
			}
		}
	}
	t.Logf("checked %d bad-id requests", checked)

	// A well-formed camera id that does not exist: 404, one record, kind
	// camera, for users who may see cameras.
	for _, c := range []struct{ who, method, path string }{
		{"installer", "GET", "/api/v1/cameras/nocam"},
		{"operator", "GET", "/api/v1/cameras/nocam"},
		{"installer", "GET", "/api/v1/recordings/nocam/timeline"},
		{"installer", "GET", "/cameras/nocam/masks"},
		{"operator", "GET", "/api/v1/cameras/nocam/snapshot"},
		{"installer", "PUT", "/api/v1/cameras/nocam/masks"},
	} {
		body, ctype := "", ""
		if c.method == "PUT" {
			body, ctype = `{"masks":[]}`, "application/json"
		}
		before := e.head()
		resp := e.do(c.method, c.path, ctype, body, tm.cookies[c.who])
		readAll(t, resp)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s %s: %d, want 404", c.who, c.method, c.path, resp.StatusCode)
		}
		for _, r := range e.recordsAfter(before) {
			if r.Target != "" && (r.Target != "nocam" || r.TargetKind != audit.KindCamera) {
				t.Errorf("%s %s: record %+v", c.who, c.path, r)
			}
		}
	}

	// The uplink is unaffected: the whole log goes through a real uplink,
	// in order, no placeholder.
	u, err := uplink.New(uplink.Config{Broker: "mqtts://127.0.0.1:1", DeviceID: "gw-test-01", Firmware: "1.0.0",
		OutboxPath: filepath.Join(t.TempDir(), "outbox.db"), IDKey: make([]byte, uplink.KeySize)},
		uplink.Deps{Health: e.health, Board: uplink.BoardFunc(func() uplink.Board { return uplink.Board{} })})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	p, err := uplink.NewAuditPump(uplink.PumpConfig{DataDir: t.TempDir(), Poll: 10 * time.Millisecond}, uplink.PumpDeps{Source: e.pol, Queue: u})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	head := e.head()
	for deadline := time.Now().Add(20 * time.Second); p.Position() < head && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if p.Position() < head || p.Withheld() != 0 {
		t.Fatalf("uplink pump at %d of %d, %d placeholders", p.Position(), head, p.Withheld())
	}
}
