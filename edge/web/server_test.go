package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
)

// R20, R22: good and bad logins, the session cookie's flags, and the log
// lines (user and address, never the password).
func TestR20LoginAndSessionCookie(t *testing.T) {
	e := newEnv(t)

	jsonError(t, e.loginJSON("installer", "wrong-password"), http.StatusUnauthorized)
	jsonError(t, e.loginJSON("nobody", e.password), http.StatusUnauthorized)
	jsonError(t, e.do(http.MethodPost, "/api/v1/login", "application/json", `{"user":"installer"`, nil), http.StatusBadRequest)
	jsonError(t, e.do(http.MethodPost, "/api/v1/login", "text/plain", "installer", nil), http.StatusUnsupportedMediaType)

	resp := e.loginJSON(e.user, e.password)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var lr loginResponse
	if err := json.Unmarshal(body, &lr); err != nil || lr.User != "installer" || lr.Role != roleInstaller || lr.IdleTimeout != 900 {
		t.Errorf("login answer %s (%v)", body, err)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("login Cache-Control %q", cc)
	}

	raw := resp.Header.Get("Set-Cookie")
	for _, flag := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(raw, flag) {
			t.Errorf("Set-Cookie %q lacks %s", raw, flag)
		}
	}
	c := sessionCookieOf(t, resp)
	tok, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(tok) != 32 {
		t.Errorf("session token %q is not 32 bytes base64url (%v)", c.Value, err)
	}

	resp = e.do(http.MethodGet, "/api/v1/health", "", "", c)
	if readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Errorf("health with session: %d", resp.StatusCode)
	}

	logs := e.logs.String()
	if strings.Contains(logs, e.password) || strings.Contains(logs, "wrong-password") {
		t.Error("a password reached the log")
	}
	for _, want := range []string{`msg="web: login failed" user=installer addr=127.0.0.1:`, `msg="web: login failed" user=nobody`,
		`msg="web: login" user=installer role=installer addr=127.0.0.1:`, "tls_fingerprint=" + e.srv.Fingerprint(), "urls=[https://" + e.srv.Addr().String() + "/]"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// R22: failed logins from one address back off exponentially: 429 with
// Retry-After, even for the right password, until the lock has passed.
func TestR22LoginThrottledPerAddress(t *testing.T) {
	e := newEnv(t)
	for i := range addrThrottlePolicy().free {
		jsonError(t, e.loginJSON("installer", "bad-"+strconv.Itoa(i)), http.StatusUnauthorized)
	}
	resp := e.loginJSON(e.user, e.password)
	jsonError(t, resp, http.StatusTooManyRequests)
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(e.logs.String(), "kind=login_burst") {
		t.Error("burst of failed logins not reported (R22)")
	}

	e.clock.Advance(2 * time.Second)
	jsonError(t, e.loginJSON("installer", "bad-again"), http.StatusUnauthorized)
	resp = e.loginJSON(e.user, e.password)
	jsonError(t, resp, http.StatusTooManyRequests)
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra != 2 {
		t.Errorf("second lock Retry-After %d, want 2 (doubled)", ra)
	}

	e.clock.Advance(3 * time.Second)
	e.login() // lock passed; success resets the counters
	jsonError(t, e.loginJSON("installer", "bad"), http.StatusUnauthorized)
}

// R22: an account is throttled across addresses (a spray from many hosts).
func TestR22LoginThrottledPerAccount(t *testing.T) {
	e := newEnv(t)
	h := e.srv.Handler()
	try := func(i int, password string) *httptest.ResponseRecorder {
		body, _ := json.Marshal(loginRequest{User: "Installer", Password: password})
		r := httptest.NewRequest(http.MethodPost, "https://gw/api/v1/login", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = "192.0.2." + strconv.Itoa(i) + ":4000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range userThrottlePolicy().free {
		if w := try(i+1, "bad"); w.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, w.Code)
		}
	}
	w := try(200, e.password)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("account lock from a fresh address: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}

// R11: every non-public /api/v1 route answers 401 JSON without a session,
// unknown API paths included (no route discovery).
func TestR11EveryAPIRouteNeedsSession(t *testing.T) {
	e := newEnv(t)
	n := 0
	for _, rt := range e.srv.routes() {
		if !rt.api || rt.need == permPublic {
			continue
		}
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			method, path = http.MethodGet, rt.pattern+"anything"
		}
		path = strings.NewReplacer("{id}", "cam1", "{$}", "").Replace(path)
		msg := jsonError(t, e.do(method, path, "", "", nil), http.StatusUnauthorized)
		if msg != "authentication required" {
			t.Errorf("%s %s: error %q", method, path, msg)
		}
		// A forged or expired cookie is no better.
		jsonError(t, e.do(method, path, "", "", &http.Cookie{Name: sessionCookie, Value: strings.Repeat("A", 43)}), http.StatusUnauthorized)
		n++
	}
	if n < 4 {
		t.Errorf("only %d guarded API routes found", n)
	}
	jsonError(t, e.do(http.MethodDelete, "/api/v1/health", "", "", nil), http.StatusUnauthorized)

	c := e.login()
	jsonError(t, e.do(http.MethodGet, "/api/v1/nope", "", "", c), http.StatusNotFound)
}

// R11, R19: a role without the permissions gets 403, and health without
// camera details.
func TestR11ForbiddenWithoutPermission(t *testing.T) {
	e := newEnv(t)
	token, err := e.srv.sess.create(principal{User: "audrey", Role: "auditor"})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Cookie{Name: sessionCookie, Value: token}
	jsonError(t, e.do(http.MethodGet, "/api/v1/health", "", "", c), http.StatusForbidden)
	jsonError(t, e.do(http.MethodGet, "/api/v1/cameras/cam1/snapshot", "", "", c), http.StatusForbidden)
	resp := e.do(http.MethodPost, "/api/v1/logout", "", "", c)
	if readAll(t, resp); resp.StatusCode != http.StatusNoContent {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if !strings.Contains(e.logs.String(), `msg="web: forbidden" user=audrey`) {
		t.Error("forbidden access not logged")
	}
	// R19: the health of a role that may read health but not cameras.
	e.srv.accts.(*setupAccounts).roles["auditor"] = map[permission]bool{permHealthRead: true}
	token, _ = e.srv.sess.create(principal{User: "audrey", Role: "auditor"})
	var snap health.Snapshot
	if err := json.Unmarshal(readAll(t, e.do(http.MethodGet, "/api/v1/health", "", "", &http.Cookie{Name: sessionCookie, Value: token})), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Cameras) != 0 || snap.Storage.Segments != 42 {
		t.Errorf("auditor health: cameras %v, storage %+v", snap.Cameras, snap.Storage)
	}
}

// R23: GET /api/v1/health is the health.Snapshot as JSON.
func TestR23HealthJSON(t *testing.T) {
	e := newEnv(t)
	resp := e.do(http.MethodGet, "/api/v1/health", "", "", e.login())
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("health: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	var got health.Snapshot
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if want := testHealth(); !reflect.DeepEqual(got, want) {
		t.Errorf("health JSON\n got %+v\nwant %+v", got, want)
	}
}

// R18, D3: the snapshot is a JPEG of the masked picture's size with the
// viewer and time burned in; unknown cameras are 404 JSON; source failures
// are a generic 503.
func TestR18SnapshotJPEG(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	resp := e.do(http.MethodGet, "/api/v1/cameras/cam1/snapshot?t=123", "", "", c)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("snapshot: %d %s", resp.StatusCode, body)
	}
	if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "image/jpeg" || cc != "no-store" {
		t.Errorf("Content-Type %q Cache-Control %q", ct, cc)
	}
	img, err := jpeg.Decode(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 180 {
		t.Errorf("size %v, want 320x180", b)
	}
	lum := func(x, y int) uint32 { r, g, b, _ := img.At(x, y).RGBA(); return (r + g + b) / 3 >> 8 }
	if l := lum(300, 10); l < 190 || l > 210 {
		t.Errorf("picture pixel luminance %d, want ≈200", l)
	}
	if l := lum(1, 178); l > 120 {
		t.Errorf("no viewer/time band bottom-left (luminance %d)", l)
	}

	jsonError(t, e.do(http.MethodGet, "/api/v1/cameras/nope/snapshot", "", "", c), http.StatusNotFound)
	// Known to health, unknown to the pipeline.
	jsonError(t, e.do(http.MethodGet, "/api/v1/cameras/cam2/snapshot", "", "", c), http.StatusNotFound)

	e.shots.errs["cam1"] = errors.New("decoder exploded at /dev/secret")
	msg := jsonError(t, e.do(http.MethodGet, "/api/v1/cameras/cam1/snapshot", "", "", c), http.StatusServiceUnavailable)
	if strings.Contains(msg, "exploded") {
		t.Errorf("internal error leaked: %q", msg)
	}
}

// Security headers on every answer; no-store on API and snapshot answers.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	for _, p := range []string{"/", "/api/v1/health", "/api/v1/cameras/cam1/snapshot", "/static/app.css", "/nope"} {
		for _, cookie := range []*http.Cookie{nil, c} {
			resp := e.do(http.MethodGet, p, "", "", cookie)
			readAll(t, resp)
			h := resp.Header
			if got := h.Get("Content-Security-Policy"); got != contentSecurityPolicy {
				t.Errorf("%s: CSP %q", p, got)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" ||
				!strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
				t.Errorf("%s: headers %v", p, h)
			}
			if strings.HasPrefix(p, "/api/") && h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q", p, h.Get("Cache-Control"))
			}
		}
	}
	if !strings.Contains(contentSecurityPolicy, "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'") {
		t.Error("CSP differs from the specified one")
	}
}

// CSRF: cross-origin unsafe requests are rejected before any handler runs.
func TestCrossOriginPOSTRejected(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	for _, p := range []string{"/api/v1/login", "/login", "/api/v1/logout", "/logout"} {
		for _, hdr := range []map[string]string{
			{"Sec-Fetch-Site": "cross-site"},
			{"Origin": "https://evil.example"},
		} {
			req, _ := http.NewRequest(http.MethodPost, e.base+p, strings.NewReader(url.Values{"user": {e.user}, "password": {e.password}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			req.AddCookie(c)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			jsonError(t, resp, http.StatusForbidden)
		}
	}
	// The session survived the forged logouts.
	resp := e.do(http.MethodGet, "/api/v1/health", "", "", c)
	if readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Errorf("session ended by a cross-origin logout: %d", resp.StatusCode)
	}
}

// Sessions end after 15 minutes idle, after 8 hours in any case, and at logout.
func TestSessionTimeoutsAndLogout(t *testing.T) {
	e := newEnv(t)
	get := func(c *http.Cookie) int {
		resp := e.do(http.MethodGet, "/api/v1/health", "", "", c)
		readAll(t, resp)
		return resp.StatusCode
	}
	c := e.login()
	e.clock.Advance(14 * time.Minute)
	if s := get(c); s != http.StatusOK {
		t.Fatalf("after 14 min: %d", s)
	}
	e.clock.Advance(15*time.Minute + time.Second)
	if s := get(c); s != http.StatusUnauthorized {
		t.Errorf("after 15 min idle: %d, want 401", s)
	}

	c = e.login()
	for range 8 * 60 / 10 {
		e.clock.Advance(10 * time.Minute)
		if get(c) != http.StatusOK {
			break
		}
	}
	if s := get(c); s != http.StatusUnauthorized {
		t.Errorf("after 8 h: %d, want 401", s)
	}

	c = e.login()
	resp := e.do(http.MethodPost, "/api/v1/logout", "", "", c)
	readAll(t, resp)
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout: %d %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	if s := get(c); s != http.StatusUnauthorized {
		t.Errorf("after logout: %d", s)
	}
}

// The page: login form without a session, form login, dashboard with the
// device's figures, no inline script or style (the CSP forbids them).
func TestPageLoginAndDashboard(t *testing.T) {
	e := newEnv(t)
	resp := e.do(http.MethodGet, "/", "", "", nil)
	page := string(readAll(t, resp))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `action="/login"`) {
		t.Fatalf("login page: %d\n%s", resp.StatusCode, page)
	}
	checkNoInline(t, page)

	form := func(pw string) *http.Response {
		return e.do(http.MethodPost, "/login", "application/x-www-form-urlencoded",
			url.Values{"user": {"installer"}, "password": {pw}}.Encode(), nil)
	}
	resp = form("nope")
	if page := string(readAll(t, resp)); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Invalid user name or password") {
		t.Errorf("bad form login: %d", resp.StatusCode)
	}
	resp = form(e.password)
	readAll(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("form login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c := sessionCookieOf(t, resp)

	resp = e.do(http.MethodGet, "/", "", "", c)
	page = string(readAll(t, resp))
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("dashboard Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	for _, want := range []string{"gw-test-01", "0.1.0-test", "2h0m0s", "8.0 GiB", "3.0 GiB (37%)", "xchacha20poly1305",
		"20d 0h", "floor 30d 0h", "retention horizon 20d below floor 30d", "Front door", "state-recording", "15.0",
		"900 kbit/s", "320×180", ">masked<", "no frames for 30s", `data-camera="cam1"`,
		`src="/api/v1/cameras/cam1/snapshot"`, `src="/static/app.js"`, `href="/static/app.css"`, `action="/logout"`} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	checkNoInline(t, page)

	resp = e.do(http.MethodPost, "/logout", "", "", c)
	readAll(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("page logout: %d", resp.StatusCode)
	}
	resp = e.do(http.MethodGet, "/", "", "", c)
	if page := string(readAll(t, resp)); !strings.Contains(page, `action="/login"`) {
		t.Error("dashboard still shown after logout")
	}
}

func checkNoInline(t *testing.T, page string) {
	t.Helper()
	if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`).MatchString(page) {
		t.Error("page has inline style or script")
	}
	for _, m := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(m, `src="/static/`) {
			t.Errorf("inline script tag %s", m)
		}
	}
}

// Embedded assets: right types, ETag revalidation, no directory listing.
func TestStaticAssets(t *testing.T) {
	e := newEnv(t)
	for name, ctype := range map[string]string{"app.js": "text/javascript", "app.css": "text/css"} {
		resp := e.do(http.MethodGet, "/static/"+name, "", "", nil)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("%s: %d %q", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		req, _ := http.NewRequest(http.MethodGet, e.base+"/static/"+name, nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		resp2, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp2); resp2.StatusCode != http.StatusNotModified {
			t.Errorf("%s revalidation: %d", name, resp2.StatusCode)
		}
	}
	for _, p := range []string{"/static/", "/static/nope.js", "/static/../server.go"} {
		resp := e.do(http.MethodGet, p, "", "", nil)
		if readAll(t, resp); resp.StatusCode == http.StatusOK {
			t.Errorf("%s: 200", p)
		}
	}
}

// R22: parallel attempts cannot slip past the throttle together.
func TestR22ParallelAttemptsThrottled(t *testing.T) {
	e := newEnv(t)
	h := e.srv.Handler()
	const n = 20
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := httptest.NewRequest(http.MethodPost, "https://gw/api/v1/login", strings.NewReader(`{"user":"installer","password":"bad"}`))
			r.Header.Set("Content-Type", "application/json")
			r.RemoteAddr = "192.0.2.9:5000"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			codes <- w.Code
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if free := addrThrottlePolicy().free; count[http.StatusUnauthorized] != free || count[http.StatusTooManyRequests] != n-free {
		t.Errorf("answers %v, want %d×401 and the rest 429", count, free)
	}
}
