package web

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/edgerec/edgerec/policy/perm"
)

// R11: the one-time setup code creates the first admin and dies; a wrong
// code is refused and audited; the code is never logged.
func TestR11SetupCodeOnce(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	if !regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){4}$`).MatchString(e.code) {
		t.Fatalf("setup code %q has not the expected form", e.code)
	}
	if again := e.srv.SetupCode(); again != "" {
		t.Error("SetupCode handed the code out twice")
	}
	resp := e.do("GET", "/", "", "", nil)
	if b := string(readAll(t, resp)); !strings.Contains(b, `action="/setup"`) {
		t.Error("first run does not show the setup page")
	}
	jsonError(t, e.do("POST", "/api/v1/setup", "application/json", `{"code":"0000-0000-0000-0000-0000","user":"admin","password":"`+testPassword+`"}`, nil), http.StatusForbidden)
	jsonError(t, e.do("POST", "/api/v1/setup", "application/json", `{"code":"`+e.code+`","user":"Ad min","password":"`+testPassword+`"}`, nil), http.StatusBadRequest)
	admin := e.setupAdmin()
	var me meResponse
	e.must(200, "GET", "/api/v1/me", nil, admin, &me)
	if me.Role != perm.Admin {
		t.Errorf("setup made role %q", me.Role)
	}
	jsonError(t, e.do("POST", "/api/v1/setup", "application/json", `{"code":"`+e.code+`","user":"admin2","password":"`+testPassword+`"}`, nil), http.StatusGone)
	if _, err := os.Stat(filepath.Join(e.dir, setupDir, setupFile)); !os.IsNotExist(err) {
		t.Errorf("setup code file still there: %v", err)
	}
	if strings.Contains(e.logs.String(), e.code) {
		t.Error("setup code in the log")
	}
	found := false
	for _, r := range e.audit() {
		if r.Action == "setup" && r.Result == "denied" {
			found = true
		}
	}
	if !found {
		t.Error("wrong setup code not audited")
	}
	// provision: a code made before the first run is honoured, the
	// server then makes none of its own.
	dir := t.TempDir()
	code, err := ProvisionSetupCode(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := minimalDeps(t, t.TempDir())
	s2, err := New(Config{DataDir: dir, DeviceID: "gw2"}, d)
	if err != nil {
		t.Fatal(err)
	}
	if s2.SetupCode() != "" || !s2.SetupPending() || !s2.setup.check(strings.ToUpper(code)) {
		t.Error("provisioned setup code not honoured")
	}
}

// substitute fills a route pattern's wildcards for the matrix test.
func substitute(pattern string, ids map[string]string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "GET", pattern
	}
	r := strings.NewReplacer("{id}", "nocam", "{sid}", "00", "{gid}", "g-00000000000000000000", "{uid}", ids["auditor"],
		"{xid}", "x1", "{part}", "mp4", "{$}", "", "{name}", "app.css")
	path = r.Replace(path)
	if strings.HasSuffix(path, "/api/v1/") {
		path += "nothing"
	}
	return method, path
}

// R11, R16: every API route × every role (and anonymous), against the
// policy permission table: a role the table allows passes authorization
// (no 401/403 from authorize, no http.forbidden audit record), a role it
// refuses gets 403 and a denied audit record naming the user, anonymous
// gets 401 and an audit record. Pages: anonymous is redirected, refused
// roles get 403.
func TestR11EveryRouteEveryRole(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	// Anonymous refusals are audited under a rate limit (a flood must not
	// grow the chain without bound); lift it to see every record here.
	e.srv.denyL = rate.NewLimiter(rate.Inf, 1)
	tm := e.makeTeam()
	m := perm.NewMatrix()
	roles := map[string]perm.Role{"admin": perm.Admin, "installer": perm.Installer, "operator": perm.Operator, "approver": perm.Approver, "auditor": perm.Auditor}
	checked := 0
	for _, rt := range e.srv.routes() {
		if rt.need == permPublic || rt.pattern == "POST /api/v1/logout" {
			continue
		}
		method, path := substitute(rt.pattern, tm.ids)
		body, ctype := "", ""
		if method == "POST" || method == "PUT" {
			body, ctype = "{}", "application/json"
		}
		// anonymous
		before := len(e.audit())
		resp := e.do(method, path, ctype, body, nil)
		readAll(t, resp)
		if rt.api && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous %s: %d, want 401", rt.pattern, resp.StatusCode)
		}
		if !rt.api && resp.StatusCode != http.StatusSeeOther {
			t.Errorf("anonymous page %s: %d, want 303", rt.pattern, resp.StatusCode)
		}
		if !hasNew(e.audit()[before:], "anonymous", "http.unauthenticated") {
			t.Errorf("anonymous %s: refusal not audited", rt.pattern)
		}
		for name, role := range roles {
			want := rt.need == permSession || m.Cell(role, rt.need) == perm.Allow || (rt.viaGrant && m.Cell(role, rt.need) == perm.Grant) || (rt.alt != "" && m.Cell(role, rt.alt) == perm.Allow)
			before := len(e.audit())
			resp := e.do(method, path, ctype, body, tm.cookies[name])
			b := readAll(t, resp)
			recs := e.audit()[before:]
			refused := hasNew(recs, tm.ids[name], "http.forbidden")
			if want && (refused || resp.StatusCode == http.StatusUnauthorized) {
				t.Errorf("%s %s: refused (%d %s), the table allows %s", name, rt.pattern, resp.StatusCode, b, rt.need)
			}
			if !want {
				if resp.StatusCode != http.StatusForbidden || !refused {
					t.Errorf("%s %s: %d (audited %v), want 403 and an audit record (table: %s)", name, rt.pattern, resp.StatusCode, refused, rt.need)
				}
			}
			if rt.action != "" && want && resp.StatusCode != http.StatusServiceUnavailable && !hasNew(recs, tm.ids[name], rt.action) {
				t.Errorf("%s %s: audited route without its %s record", name, rt.pattern, rt.action)
			}
			checked++
		}
	}
	t.Logf("checked %d route×role pairs", checked)
	// Spot checks straight from PERMISSIONS.md, independent of the code's table.
	for _, c := range []struct {
		who, method, path string
		want              int
	}{
		{"admin", "GET", "/api/v1/audit", 403},                    // audit.read: auditor only
		{"auditor", "GET", "/api/v1/audit", 200},                  //
		{"auditor", "GET", "/api/v1/cameras/nocam/snapshot", 403}, // no video for auditors
		{"admin", "GET", "/api/v1/cameras", 403},                  // R19: admin sees no cameras
		{"installer", "GET", "/api/v1/users", 403},                //
		{"operator", "GET", "/api/v1/grants", 403},                // only own grants
		{"operator", "GET", "/api/v1/grants/mine", 200},           //
		{"admin", "GET", "/metrics", 200},                         //
		{"operator", "GET", "/metrics", 403},                      //
	} {
		resp := e.do(c.method, c.path, "", "", tm.cookies[c.who])
		readAll(t, resp)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s %s: %d, want %d", c.who, c.method, c.path, resp.StatusCode, c.want)
		}
	}
}

func hasNew(recs []recordView, actor, action string) bool {
	for _, r := range recs {
		if r.Actor == actor && r.Action == action {
			return true
		}
	}
	return false
}

// R20, R22: cookie flags, failed logins throttled and a burst raises an
// event (log record kind=login_burst and an audit record).
func TestR22LoginCookieAndThrottle(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	e.setupAdmin()
	resp := e.loginJSON("admin", testPassword)
	readAll(t, resp)
	raw := resp.Header.Get("Set-Cookie")
	for _, flag := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(raw, flag) {
			t.Errorf("Set-Cookie %q lacks %s", raw, flag)
		}
	}
	for i := range pairThrottlePolicy().free {
		jsonError(t, e.loginJSON("admin", "wrong-password-"+string(rune('a'+i))), http.StatusUnauthorized)
	}
	resp = e.loginJSON("admin", testPassword)
	jsonError(t, resp, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if !strings.Contains(e.logs.String(), "kind=login_burst") {
		t.Error("burst not logged as an event")
	}
	if !hasNew(e.audit(), "anonymous", "login.burst") {
		t.Error("burst not audited")
	}
	if strings.Contains(e.logs.String(), testPassword) || strings.Contains(e.logs.String(), "wrong-password") {
		t.Error("a password reached the log")
	}
}

// Sessions: missing, forged, expired (idle and absolute) and logged-out
// cookies are refused; cross-site unsafe requests are refused (CSRF).
func TestSessionsAndCrossSite(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	admin := e.setupAdmin()
	e.must(200, "GET", "/api/v1/me", nil, admin, nil)
	jsonError(t, e.do("GET", "/api/v1/me", "", "", nil), 401)
	jsonError(t, e.do("GET", "/api/v1/me", "", "", &http.Cookie{Name: sessionCookie, Value: strings.Repeat("A", 43)}), 401)
	jsonError(t, e.do("GET", "/api/v1/me", "", "", &http.Cookie{Name: sessionCookie, Value: "../../etc/passwd"}), 401)

	// Cross-site POST with a valid cookie: refused before any handler.
	req, _ := http.NewRequest("POST", e.base+"/api/v1/users", strings.NewReader(`{"user":"evil","password":"0123456789ab"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(admin)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if msg := jsonError(t, resp, http.StatusForbidden); !strings.Contains(msg, "cross-origin") {
		t.Errorf("cross-site: %q", msg)
	}
	if us, _ := e.pol.Users(context.Background()); len(us) != 1 {
		t.Error("cross-site request created a user")
	}

	e.clock.Advance(sessionIdle + time.Second)
	jsonError(t, e.do("GET", "/api/v1/me", "", "", admin), 401)

	// Absolute timeout: a session kept busy (never idle) still ends.
	c2 := e.login("admin", testPassword)
	start := e.clock.off
	for {
		e.clock.Advance(sessionIdle - time.Minute)
		resp := e.do("GET", "/api/v1/me", "", "", c2)
		readAll(t, resp)
		if resp.StatusCode == 401 {
			if e.clock.off-start < sessionAbsolute {
				t.Errorf("busy session ended after %s, before the absolute limit", e.clock.off-start)
			}
			break
		}
		if e.clock.off-start > sessionAbsolute+sessionIdle {
			t.Fatal("busy session outlived the absolute limit")
		}
	}
	c3 := e.login("admin", testPassword)
	resp = e.do("POST", "/api/v1/logout", "", "", c3)
	readAll(t, resp)
	jsonError(t, e.do("GET", "/api/v1/me", "", "", c3), 401)
}

// Bad input: oversized bodies, malformed JSON, wrong media types, unknown
// fields, bad SDP, polygons out of range, path traversal, Unicode tricks:
// clear 4xx JSON, the process goes on.
func TestBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	inst, op, admin := tm.cookies["installer"], tm.cookies["operator"], tm.cookies["admin"]
	big := `{"user":"` + strings.Repeat("a", 70<<10) + `"}`
	cases := []struct {
		c            *http.Cookie
		method, path string
		ctype, body  string
		want         int
		msg          string
	}{
		{admin, "POST", "/api/v1/users", "application/json", big, 413, "too large"},
		{admin, "POST", "/api/v1/users", "application/json", `{"user":`, 400, "not valid JSON"},
		{admin, "POST", "/api/v1/users", "text/plain", `{}`, 415, "application/json"},
		{admin, "POST", "/api/v1/users", "application/json", `{"user":"x","password":"0123456789a","role":"admin"}`, 400, "unknown field"},
		{admin, "POST", "/api/v1/users", "application/json", `{"user":"x"} {"user":"y"}`, 400, "trailing"},
		{admin, "POST", "/api/v1/users", "application/json", `{"user":"аdmin","password":"0123456789ab"}`, 400, "username"}, // Cyrillic а
		{admin, "POST", "/api/v1/users", "application/json", `{"user":"ad\u202emin","password":"0123456789ab"}`, 400, "username"},
		{inst, "POST", "/api/v1/cameras", "application/json", `{"id":"c2","name":"Door\u202e","source":"test://pattern","zone":"entrance"}`, 400, "invisible"},
		{inst, "POST", "/api/v1/cameras", "application/json", `{"id":"c2","name":"Door\u200b","source":"test://pattern","zone":"entrance"}`, 400, "invisible"},
		{inst, "POST", "/api/v1/cameras", "application/json", `{"id":"../c2","source":"test://pattern","zone":"entrance"}`, 400, "camera id"},
		{inst, "POST", "/api/v1/cameras", "application/json", `{"id":"c2","source":"file:///etc/passwd","zone":"entrance"}`, 400, "source must be"},
		{inst, "POST", "/api/v1/cameras", "application/json", `{"id":"c2","source":"test://pattern","zone":"toilet"}`, 422, "toilet"},
		{inst, "POST", "/api/v1/cameras", "application/json", `{"id":"c2","source":"test://pattern","zone":"moon"}`, 422, "unknown zone"},
		{inst, "PUT", "/api/v1/cameras/cam1/masks", "application/json", `{"masks":[{"name":"w","style":"fill","polygon":[[0,0],[1.5,0],[1,1]]}]}`, 400, "mask"},
		{inst, "PUT", "/api/v1/cameras/cam1/masks", "application/json", `{"masks":[{"name":"w","style":"fill","polygon":[[0,0],[1,0]]}]}`, 400, "mask"},
		{inst, "PUT", "/api/v1/cameras/cam1/masks", "application/json", `{"masks":[{"name":"w","style":"blur","polygon":[[0,0],[1,0],[1,1]]}]}`, 400, "mask"},
		{inst, "PUT", "/api/v1/cameras/cam1/masks", "application/json", `{"masks":[{"name":"w","polygon":[[0,0],[1,1],[1,0],[0,1]]}]}`, 400, "mask"},
		{op, "POST", "/api/v1/cameras/cam1/whep", "application/sdp", "v=0\r\nthis is not sdp", 400, "SDP"},
		{op, "POST", "/api/v1/cameras/cam1/whep", "application/sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\n", 400, "no video"},
		{op, "POST", "/api/v1/cameras/cam1/whep", "application/json", "{}", 415, "application/sdp"},
		{op, "POST", "/api/v1/cameras/cam1/whep", "application/sdp", strings.Repeat("a", 70<<10), 413, "too large"},
		{op, "GET", "/api/v1/cameras/..%2f..%2fetc%2fpasswd/snapshot", "", "", 400, "camera id"},
		{op, "GET", "/api/v1/recordings/cam1/play?grant=..%2Fx&from=2026-01-01T00:00:00Z&to=2026-01-01T00:01:00Z", "", "", 400, "grant"},
		{op, "GET", "/api/v1/recordings/cam1/timeline?from=yesterday", "", "", 400, "RFC 3339"},
		{op, "GET", "/api/v1/exports/..%2f..%2fkey/manifest", "", "", 400, "export id"},
	}
	for _, c := range cases {
		resp := e.do(c.method, c.path, c.ctype, c.body, c.c)
		msg := jsonError(t, resp, c.want)
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(c.msg)) {
			t.Errorf("%s %s (%.40q): message %q lacks %q", c.method, c.path, c.body, msg, c.msg)
		}
	}
	// Static files: no traversal.
	for _, p := range []string{"/static/..%2fserver.go", "/static/%2e%2e/tls/key.pem", "/static/nope.js"} {
		resp := e.do("GET", p, "", "", nil)
		b := readAll(t, resp)
		if resp.StatusCode != 404 || strings.Contains(string(b), "package web") {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	// Still alive.
	e.must(200, "GET", "/api/v1/me", nil, admin, nil)
	// The zone refusal was audited with its reason.
	ok := false
	for _, r := range e.audit() {
		if r.Action == "camera.add" && r.Result == "failed" && strings.Contains(r.Detail, "toilet") {
			ok = true
		}
	}
	if !ok {
		t.Error("refused camera (prohibited zone) not audited with the reason")
	}
}

// R12, R17-style: playback only under a grant; a grant revoked during
// playback stops the next window (403, audited denied with the grant id).
func TestR12PlaybackUnderGrantAndRevokedMidway(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	op, ap := tm.cookies["operator"], tm.cookies["approver"]
	start := time.Now().UTC()
	waitFootage(t, e, "cam1", 6*time.Second)
	end := time.Now().UTC()
	q := func(gid string, from, to time.Time) string {
		return "/api/v1/recordings/cam1/play?grant=" + gid + "&from=" + from.Format(time.RFC3339Nano) + "&to=" + to.Format(time.RFC3339Nano)
	}
	// No grant: refused.
	jsonError(t, e.do("GET", q("g-00000000000000000000", start, end), "", "", op), 404)
	var g grantView
	e.must(201, "POST", "/api/v1/grants", footageRequest{Action: "playback", Purpose: "incident 42", Cameras: []string{"cam1"},
		From: start.Add(-time.Minute), To: end.Add(time.Minute), ValidityHours: 1}, op, &g)
	jsonError(t, e.do("GET", q(g.ID, start, end), "", "", op), 403) // not approved yet
	jsonError(t, e.do("POST", "/api/v1/grants/"+g.ID+"/approve", "", "", op), 403)
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, ap, nil)
	// Admin cannot play back even so (R11).
	jsonError(t, e.do("GET", q(g.ID, start, end), "", "", tm.cookies["admin"]), 403)
	mid := start.Add(end.Sub(start) / 2)
	resp := e.do("GET", q(g.ID, start, mid), "", "", op)
	b := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || len(b) < 1000 || string(b[4:8]) != "ftyp" {
		t.Fatalf("playback: %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	if !strings.HasPrefix(resp.Header.Get("X-Codec"), "avc1.") || !strings.Contains(string(b), "moof") {
		t.Errorf("not fragmented MP4 (codec %q)", resp.Header.Get("X-Codec"))
	}
	// Out of the granted range: refused.
	jsonError(t, e.do("GET", q(g.ID, start.Add(-2*time.Minute), mid), "", "", op), 403)
	// Revoked mid-playback: the next window is refused.
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/revoke", reasonRequest{Reason: "case closed"}, ap, nil)
	jsonError(t, e.do("GET", q(g.ID, mid, end), "", "", op), 403)
	var used, denied bool
	for _, r := range e.audit() {
		if r.Action == "grant.use.playback" && r.Grant == g.ID {
			if r.Result == "ok" {
				used = true
			} else {
				denied = true
			}
		}
	}
	if !used || !denied {
		t.Errorf("grant uses not audited with the grant id (ok %v, denied %v)", used, denied)
	}
}

// waitFootage waits until camera has at least d of indexed footage.
func waitFootage(t *testing.T, e *testEnv, cam string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d + 20*time.Second)
	for time.Now().Before(deadline) {
		spans, err := e.store.Coverage(context.Background(), cam, time.Now().Add(-time.Hour), time.Now())
		if err == nil {
			var total time.Duration
			for _, s := range spans {
				total += s.To.Sub(s.From)
			}
			if total >= d {
				return
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("no %s of footage for %s", d, cam)
}

// R23, metrics: /metrics with a role or the token; camera ids only.
func TestMetricsTokenOrRole(t *testing.T) {
	e := newEnv(t, envOptions{metrics: "scrape-token-0123456789"})
	req, _ := http.NewRequest("GET", e.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer scrape-token-0123456789")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b := string(readAll(t, resp))
	if resp.StatusCode != 200 || !strings.Contains(b, `edgerec_camera_fps{camera="cam1"}`) || !strings.Contains(b, `edgerec_camera_dropped_frames_total{camera="cam1"}`) || strings.Contains(b, "Front door") {
		t.Errorf("metrics: %d\n%.400s", resp.StatusCode, b)
	}
	req.Header.Set("Authorization", "Bearer wrong")
	resp, _ = e.client.Do(req)
	jsonError(t, resp, 401)
}

// The JSON error body never leaks internals, and every JSON answer is
// no-store.
func TestErrorsAreJSON(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	c := e.setupAdmin()
	resp := e.do("GET", "/api/v1/nope", "", "", c)
	jsonError(t, resp, 404)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("API answer not no-store")
	}
	var x map[string]any
	if st := e.jdo("GET", "/api/v1/health", nil, c, &x); st != 200 {
		t.Errorf("health %d", st)
	}
	_ = json.Valid
}
