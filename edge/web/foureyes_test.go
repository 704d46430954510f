package web

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 12 at the LAN page: one-time passwords, resets, lockout that
// cannot be turned against another address, spraying, the login burst
// reaching the daemon, hold release by a second approver.

type burstRecorder struct {
	mu     sync.Mutex
	n      []int
	visits [][2]int // MaintenanceVisit calls: cameras, recent
}

func (b *burstRecorder) MaintenanceVisit(cameras, recent int) {
	b.mu.Lock()
	b.visits = append(b.visits, [2]int{cameras, recent})
	b.mu.Unlock()
}

func (b *burstRecorder) LoginBurst(failures int, _ time.Duration) {
	b.mu.Lock()
	b.n = append(b.n, failures)
	b.mu.Unlock()
}

func (b *burstRecorder) count() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.n) }

// from makes e's client connect from another loopback address (127.0.0.x
// all reach the server), i.e. another machine on the LAN; it returns a
// function that restores the original client.
func (e *testEnv) from(ip string) func() {
	old := e.client
	tr := old.Transport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}).DialContext
	c := *old
	c.Transport = tr
	e.client = &c
	return func() { e.client = old }
}

// R22 (issue 12 finding 7): anyone on the LAN could keep the only admin
// locked out for 15 minutes, and the admin was told "invalid password" for
// the right one.
func TestR22LockoutCannotLockAdminFromAnotherAddress(t *testing.T) {
	al := &burstRecorder{}
	e := newEnv(t, envOptions{noCams: true, alerts: al})
	e.setupAdmin()
	restore := e.from("127.0.0.2")
	for i := range 30 {
		resp := e.loginJSON("admin", "guess-"+string(rune('a'+i%26)))
		readAll(t, resp)
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	// The attacker's own address is locked, and told until when.
	msg := jsonError(t, e.loginJSON("admin", testPassword), http.StatusTooManyRequests)
	if !strings.Contains(msg, "locked until") {
		t.Fatalf("lock message %q does not say until when", msg)
	}
	restore()
	// The admin at their own desk is not.
	e.login("admin", testPassword)
	if al.count() == 0 {
		t.Fatal("the burst did not reach Deps.Alerts (upstream event, front panel)")
	}
	if !hasNew(e.audit(), "anonymous", "login.burst") {
		t.Fatal("burst not audited")
	}
}

// R22: a valid login must not wash away the failures an address piled up
// against another account (password spraying with one valid account).
func TestR22ValidLoginDoesNotClearOtherAccountsFailures(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	tm := e.makeTeam()
	_ = tm
	free := pairThrottlePolicy().free
	for i := range free - 1 {
		jsonError(t, e.loginJSON("approver", "spray-"+string(rune('a'+i))), http.StatusUnauthorized)
	}
	e.login("operator", testPassword) // a valid account in between
	jsonError(t, e.loginJSON("approver", "spray-last"), http.StatusUnauthorized)
	// That was the free-th failure: the pair is now locked, even for the
	// right password from this address.
	jsonError(t, e.loginJSON("approver", testPassword), http.StatusTooManyRequests)
	// The valid account still logs in from here.
	e.login("operator", testPassword)
}

// Issue 12 finding 1(b)/(c) through the API: a new account and a reset
// account can do nothing but change their password, and a reset strips
// the role.
func TestR11OneTimePasswordsAndResets(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	admin := tm.cookies["admin"]

	// (c) A new account: must change; nothing else.
	var out map[string]string
	e.must(201, "POST", "/api/v1/users", createUserRequest{User: "newbie", Password: testOneTime}, admin, &out)
	resp := e.loginJSON("newbie", testOneTime)
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"must_change":true`) {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	nb := sessionCookieOf(t, resp)
	jsonError(t, e.do("GET", "/api/v1/health", "", "", nb), http.StatusForbidden)
	msg := jsonError(t, e.do("POST", "/api/v1/account/password", "application/json", `{"old":"`+testOneTime+`","password":"`+testOneTime+`"}`, nb), http.StatusBadRequest)
	if !strings.Contains(msg, "differ") {
		t.Fatalf("keeping the admin's password: %q", msg)
	}
	e.must(204, "POST", "/api/v1/account/password", passwordRequest{Old: testOneTime, Password: testPassword}, nb, nil)

	// (b) The admin resets the operator's password and logs in as them.
	opID := tm.ids["operator"]
	e.must(204, "POST", "/api/v1/users/"+opID+"/password", passwordRequest{Password: "the admin knows it"}, admin, nil)
	jsonError(t, e.do("GET", "/api/v1/me", "", "", tm.cookies["operator"]), http.StatusUnauthorized) // sessions ended
	resp = e.loginJSON("operator", "the admin knows it")
	body = readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"must_change":true`) || !strings.Contains(string(body), `"role":""`) {
		t.Fatalf("login after reset: %d %s", resp.StatusCode, body)
	}
	op := sessionCookieOf(t, resp)
	jsonError(t, e.do("POST", "/api/v1/cameras/cam1/whep", "application/sdp", "v=0\r\n", op), http.StatusForbidden)
	e.must(204, "POST", "/api/v1/account/password", passwordRequest{Old: "the admin knows it", Password: "now the admin owns it"}, op, nil)
	// Still no role: live view and snapshots stay closed.
	jsonError(t, e.do("GET", "/api/v1/cameras/cam1/snapshot", "", "", op), http.StatusForbidden)
	jsonError(t, e.do("POST", "/api/v1/cameras/cam1/whep", "application/sdp", "v=0\r\n", op), http.StatusForbidden)
	if !hasNew(e.audit(), tm.ids["admin"], "user.password.reset") {
		t.Fatal("reset not audited as a reset")
	}
}

// R8 (issue 12 finding 6): a legal hold whose grant expired cannot be
// revoked, so it stayed forever; it is released by an approver who did not
// request it — the requester cannot, nor can the admin.
func TestR8HoldReleaseRoute(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	now := time.Now().UTC()
	var g grantView
	e.must(201, "POST", "/api/v1/grants", map[string]any{"action": "legal_hold", "purpose": "court case 12", "validity_hours": 0.0005,
		"cameras": []string{"cam1"}, "from": now.Add(-time.Hour).Format(time.RFC3339), "to": now.Format(time.RFC3339)}, tm.cookies["operator"], &g)
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, tm.cookies["approver"], nil)
	time.Sleep(2 * time.Second) // the grant (1.8 s) expires; the hold stays
	if resp := e.do("POST", "/api/v1/grants/"+g.ID+"/revoke", "application/json", `{"reason":"expired"}`, tm.cookies["approver"]); resp.StatusCode < 400 {
		t.Fatalf("revoke of the expired hold grant: %d", resp.StatusCode)
	}
	jsonError(t, e.do("POST", "/api/v1/grants/"+g.ID+"/release", "application/json", `{"reason":"mine"}`, tm.cookies["operator"]), http.StatusForbidden)
	jsonError(t, e.do("POST", "/api/v1/grants/"+g.ID+"/release", "application/json", `{"reason":"admin"}`, tm.cookies["admin"]), http.StatusForbidden)
	var rel grantView
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/release", reasonRequest{Reason: "case closed"}, tm.cookies["approver2"], &rel)
	if rel.State != "revoked" {
		t.Fatalf("released hold: %+v", rel)
	}
	if !hasNew(e.audit(), tm.ids["approver2"], "hold.release") {
		t.Fatal("release not audited")
	}
}
