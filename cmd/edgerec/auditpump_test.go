package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
)

// testDaemon is one run of the daemon in-process (shared by the daemon tests).
type testDaemon struct {
	cancel context.CancelFunc
	done   chan int
	so, se *syncBuf
	base   string
}

func startTestDaemon(t *testing.T, cfgPath string) *testDaemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &testDaemon{cancel: cancel, done: make(chan int, 1), so: &syncBuf{}, se: &syncBuf{}}
	go func() {
		d.done <- dispatch(ctx, &env{stdout: d.so, stderr: d.se, getenv: func(string) string { return "" }}, []string{"run", "--config", cfgPath, "--listen", "127.0.0.1:0"})
	}()
	for i := 0; i < 150 && d.base == ""; i++ {
		if m := regexp.MustCompile(`LAN page:\s+(https://\S+)/`).FindStringSubmatch(d.so.String()); m != nil {
			d.base = m[1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.base == "" {
		cancel()
		t.Fatalf("daemon did not start:\n%s\n%s", d.so.String(), d.se.String())
	}
	return d
}

func (d *testDaemon) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		if code != 0 {
			t.Fatalf("daemon exit %d: %s", code, d.se.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop")
	}
}

// auditHead reads the device's audit head from its policy store (the
// daemon must be stopped).
func auditHeadOf(t *testing.T, data string) uint64 {
	t.Helper()
	ps, err := policy.Open(context.Background(), policy.Config{DataDir: data}, policy.Deps{Sealer: testVault(t, data)})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	seq, _ := ps.Head()
	return seq
}

// decodedAudit is an audit record received from the broker.
type receivedAudit struct {
	a   *wire.Audit
	raw []byte
}

func receivedAudits(t *testing.T, ms []uplinktest.Message) (audits map[uint64][]receivedAudit, events []*wire.Event, beacons []*wire.Beacon) {
	t.Helper()
	audits = map[uint64][]receivedAudit{}
	for _, m := range ms {
		k, ok := wire.KindOfTopic(m.Topic[strings.LastIndex(m.Topic, "/")+1:])
		if !ok || k == wire.KindStatus {
			continue
		}
		msg, err := wire.Decode(k, m.Payload)
		if err != nil {
			t.Fatalf("%s: undecodable payload: %v", m.Topic, err)
		}
		switch v := msg.(type) {
		case *wire.Audit:
			audits[v.Seq] = append(audits[v.Seq], receivedAudit{a: v, raw: m.Payload})
		case *wire.Event:
			events = append(events, v)
		case *wire.Beacon:
			beacons = append(beacons, v)
		}
	}
	return audits, events, beacons
}

// Issue 12, R16, R19, R24, end to end: garbage path ids from anonymous and
// signed-in callers on every id route, refusals on camera routes and
// legitimate actions, plus one record the wire cannot encode, all reach
// mosquitto (TLS, loopback) in seq order with no hole; no message carries
// the raw camera id or the raw garbage; the unencodable record arrives as
// a counted placeholder with its hash. After a restart the pump continues
// from its saved position.
func TestDaemonAuditPumpNeverStalls(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-test", "edgerec/gw-pump/#", true)
	data := filepath.Join(t.TempDir(), "dev")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-pump}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: lobbycam
    source: "test://pattern?width=160&height=120&fps=5"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
lan: {listen: "127.0.0.1:18449"}
uplink: {broker: "` + b.URL() + `", ca: "` + b.Certs.CA + `", cert: "` + b.Certs.ClientCert + `", key: "` + b.Certs.ClientKey + `", beacon_interval: 5s}
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-pump", "--config", cfgPath)
	if code != 0 {
		t.Fatal(errOut)
	}
	setup := regexp.MustCompile(`setup code:\s+(\S+)`).FindStringSubmatch(out)
	if setup == nil {
		t.Fatalf("no setup code:\n%s", out)
	}
	// A record the wire schema refuses (an action outside [a-z0-9._-]),
	// as an older firmware or a bug could have written.
	ps, err := policy.Open(context.Background(), policy.Config{DataDir: data}, policy.Deps{Sealer: testVault(t, data)})
	if err != nil {
		t.Fatal(err)
	}
	badRec, err := ps.Audit(context.Background(), audit.Event{Actor: "device", Action: "Weird Action lobbycam", TargetKind: audit.KindDevice, Target: "lobbycam", Result: audit.ResultOK})
	ps.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfgRun := filepath.Join(data, "edgerec.yaml")
	// Issue 13, R32: the client key is sealed; the daemon below reaches
	// mosquitto (mutual TLS) with the key it opens from the vault.
	if inst, _ := os.ReadFile(cfgRun); !bytes.Contains(inst, []byte("key: vault:uplink/key")) {
		t.Fatalf("installed config does not refer to the sealed uplink key:\n%s", inst)
	}

	d := startTestDaemon(t, cfgRun)
	garbage := []string{"has%20space", strings.Repeat("a", 70), "caf%C3%A9", "%00", strings.Repeat("z", 1000)}
	idRoutes := []string{
		"GET /api/v1/cameras/{id}", "PUT /api/v1/cameras/{id}", "DELETE /api/v1/cameras/{id}",
		"PUT /api/v1/cameras/{id}/masks", "GET /api/v1/cameras/{id}/snapshot", "POST /api/v1/cameras/{id}/whep",
		"DELETE /api/v1/cameras/{id}/whep/{id}", "GET /api/v1/recordings/{id}/timeline", "GET /api/v1/recordings/{id}/play",
		"POST /api/v1/grants/{id}/approve", "POST /api/v1/grants/{id}/deny", "POST /api/v1/grants/{id}/revoke",
		"GET /api/v1/exports/{id}", "GET /api/v1/exports/{id}/{id}",
		"POST /api/v1/users/{id}/role", "POST /api/v1/users/{id}/training", "POST /api/v1/users/{id}/disable",
		"POST /api/v1/users/{id}/enable", "POST /api/v1/users/{id}/password", "GET /cameras/{id}/masks",
	}
	anon := newAPIClient(t, d.base)
	anon.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hit := func(c *apiClient, route, id string) int {
		method, path, _ := strings.Cut(route, " ")
		path = strings.ReplaceAll(path, "{id}", id)
		var in any
		if method == "POST" || method == "PUT" {
			in = map[string]any{}
		}
		return c.call(method, path, in, nil)
	}
	for _, r := range idRoutes {
		for _, g := range garbage {
			if st := hit(anon, r, g); st != 401 && st != 303 {
				t.Errorf("anonymous %s %.20q: %d", r, g, st)
			}
		}
	}
	const pw = "a long test password"
	admin := newAPIClient(t, d.base)
	admin.must("POST", "/api/v1/setup", map[string]string{"code": setup[1], "user": "alice", "password": pw}, nil)
	admin.must("POST", "/api/v1/login", map[string]string{"user": "alice", "password": pw}, nil)
	// Signed-in: garbage ids (400) and refusals on camera routes (admin
	// sees no cameras, R19: 403 naming the camera).
	for _, r := range idRoutes[:9] {
		for _, g := range garbage[:3] {
			if st := hit(admin, r, g); st != 400 {
				t.Errorf("admin %s %.20q: %d, want 400", r, g, st)
			}
		}
		if st := hit(admin, r, "lobbycam"); st != 403 && st != 404 && st != 400 {
			t.Errorf("admin %s lobbycam: %d", r, st)
		}
	}
	// Legitimate actions.
	var u struct{ ID string }
	admin.must("POST", "/api/v1/users", map[string]string{"user": "bob", "password": pw}, &u)
	admin.must("GET", "/api/v1/users", nil, nil)
	// The placeholder is counted in the beacon (awh); beacons come every 5 s.
	sub.Wait(t, 20*time.Second, "a beacon counting the placeholder", func(ms []uplinktest.Message) bool {
		_, _, bs := receivedAudits(t, ms)
		return len(bs) > 0 && bs[len(bs)-1].AuditWithheld > 0
	})
	time.Sleep(2500 * time.Millisecond) // the pump polls every second
	d.stop(t)

	head1 := auditHeadOf(t, data)
	pos := func() uint64 {
		b, err := os.ReadFile(filepath.Join(data, uplink.PumpFile))
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	check := func(head uint64) map[uint64][]receivedAudit {
		t.Helper()
		ms := sub.Wait(t, 60*time.Second, "every audit record", func(ms []uplinktest.Message) bool {
			a, _, _ := receivedAudits(t, ms)
			for s := uint64(1); s <= head; s++ {
				if len(a[s]) == 0 {
					return false
				}
			}
			return true
		})
		audits, _, _ := receivedAudits(t, ms)
		var prevHash string
		for s := uint64(1); s <= head; s++ {
			for _, ra := range audits[s] {
				a := ra.a
				if s > 1 && a.Prev != prevHash {
					t.Fatalf("seq %d: prev %s does not link to %s", s, a.Prev, prevHash)
				}
				for _, bad := range append([]string{"lobbycam", "has space", "café", strings.Repeat("a", 70), strings.Repeat("z", 64)}, garbage...) {
					if bytes.Contains(ra.raw, []byte(bad)) {
						t.Fatalf("seq %d (%s) carries %.20q upstream: %+v", s, a.Action, bad, a)
					}
				}
				for _, tg := range append(append([]string{a.Actor, a.Grant}, a.Targets...), a.Cameras...) {
					if tg != "" && !uplink.ClearID(tg) && !strings.HasPrefix(tg, uplink.HashedPrefix) &&
						!regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(tg) && tg != "anonymous" && tg != "device" && tg != "system" {
						t.Fatalf("seq %d: id %q is neither device-generated nor hashed", s, tg)
					}
				}
			}
			prevHash = audits[s][0].a.Hash
		}
		// Delivery order: the outbox publishes in id order; seq follows it.
		var lastSeq uint64
		for _, m := range sub.Messages() {
			if !strings.HasSuffix(m.Topic, "/audit") {
				continue
			}
			msg, _ := wire.Decode(wire.KindAudit, m.Payload)
			if a := msg.(*wire.Audit); a.Seq > lastSeq {
				if a.Seq != lastSeq+1 && lastSeq != 0 {
					t.Fatalf("audit seq %d arrived after %d: hole", a.Seq, lastSeq)
				}
				lastSeq = a.Seq
			}
		}
		return audits
	}
	p1 := pos()
	// Only what the daemon wrote while stopping (device.stop) may be left
	// for the next run.
	if p1 > head1 || head1-p1 > 2 {
		t.Fatalf("saved position %d, audit head %d", p1, head1)
	}
	head := p1
	audits := check(head)
	ph := audits[badRec.Seq][0].a
	badHash, _ := audit.HashRecord(&badRec)
	if ph.Action != wire.ActionWithheld || ph.Actor != "" || len(ph.Targets) != 0 || ph.Hash != hex.EncodeToString(badHash[:]) {
		t.Fatalf("unencodable record sent as %+v", ph)
	}
	withheld := 0
	for s := uint64(1); s <= head; s++ {
		if audits[s][0].a.Action == wire.ActionWithheld {
			withheld++
		}
	}
	_, events, beacons := receivedAudits(t, sub.Messages())
	ev := 0
	for _, e := range events {
		if e.Kind == wire.EvAuditWithheld && e.Count == badRec.Seq {
			ev++
		}
	}
	awh := uint64(0)
	for _, bc := range beacons {
		awh = max(awh, bc.AuditWithheld)
	}
	if withheld != 1 || ev == 0 || awh != 1 {
		t.Fatalf("placeholders %d, audit.withheld events %d, beacon awh %d; want 1, ≥1, 1", withheld, ev, awh)
	}
	t.Logf("run 1: %d audit records delivered, %d placeholder", head, withheld)

	// Restart: the pump continues after its saved position.
	before := head
	d = startTestDaemon(t, cfgRun)
	admin = newAPIClient(t, d.base)
	admin.must("POST", "/api/v1/login", map[string]string{"user": "alice", "password": pw}, nil)
	admin.must("GET", "/api/v1/users", nil, nil)
	if st := admin.call("GET", "/api/v1/cameras/has%20space", nil, nil); st != 400 {
		t.Errorf("after restart: %d", st)
	}
	time.Sleep(2500 * time.Millisecond)
	d.stop(t)
	head2 := auditHeadOf(t, data)
	p2 := pos()
	if p2 <= head1 || p2 > head2 || head2-p2 > 2 {
		t.Fatalf("after restart: saved position %d, head before %d, now %d", p2, head1, head2)
	}
	audits = check(p2)
	boot1 := audits[1][0].a.Boot
	for s := uint64(1); s <= before; s++ {
		for _, ra := range audits[s] {
			if ra.a.Boot != boot1 {
				t.Fatalf("seq %d was sent again by the restarted daemon", s)
			}
		}
	}
	t.Logf("run 2: delivered up to %d (head %d)", p2, head2)
}
