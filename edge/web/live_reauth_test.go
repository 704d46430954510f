package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// whepViewer is a real WebRTC client (pion) that opened a WHEP live view
// through the LAN API with a session cookie, the way the page does.
type whepViewer struct {
	t       *testing.T
	name    string
	pc      *webrtc.PeerConnection
	loc     string
	packets atomic.Int64
	ended   chan struct{}
	endOnce atomic.Bool
}

func (v *whepViewer) end() {
	if v.endOnce.CompareAndSwap(false, true) {
		close(v.ended)
	}
}

// offerLive builds a recvonly offer and POSTs it; it returns the viewer
// (nil unless 201), the status and the body.
func (e *testEnv) offerLive(name string, c *http.Cookie, cam string) (*whepViewer, int, string) {
	e.t.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		e.t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		e.t.Fatal(err)
	}
	v := &whepViewer{t: e.t, name: name, pc: pc, ended: make(chan struct{})}
	e.t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		e.t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				v.end()
				return
			}
			v.packets.Add(1)
		}
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			v.end()
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		e.t.Fatal(err)
	}
	<-gathered
	resp := e.do(http.MethodPost, "/api/v1/cameras/"+cam+"/whep", "application/sdp", pc.LocalDescription().SDP, c)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		_ = pc.Close()
		return nil, resp.StatusCode, string(body)
	}
	v.loc = resp.Header.Get("Location")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		e.t.Fatal(err)
	}
	return v, resp.StatusCode, string(body)
}

// openLive opens a viewer and waits until masked video flows.
func (e *testEnv) openLive(name string, c *http.Cookie, cam string) *whepViewer {
	e.t.Helper()
	v, status, body := e.offerLive(name, c, cam)
	if v == nil {
		e.t.Fatalf("%s: WHEP offer: %d %s", name, status, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for v.packets.Load() < 3 {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: no RTP within 20 s", name)
		}
		select {
		case <-v.ended:
			e.t.Fatalf("%s: ended before video flowed", name)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return v
}

// closedWithin asserts that the viewer's stream ends within d.
func (v *whepViewer) closedWithin(d time.Duration) time.Duration {
	v.t.Helper()
	start := time.Now()
	select {
	case <-v.ended:
		return time.Since(start)
	case <-time.After(d):
		v.t.Fatalf("%s: live view still running %s after it lost its authorization", v.name, d)
		return 0
	}
}

// running asserts that the viewer still receives video.
func (v *whepViewer) running() {
	v.t.Helper()
	n := v.packets.Load()
	deadline := time.Now().Add(5 * time.Second)
	for v.packets.Load() <= n+2 {
		select {
		case <-v.ended:
			v.t.Fatalf("%s: an unaffected live view was closed", v.name)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("%s: an unaffected live view stopped receiving video", v.name)
		}
	}
}

// addUser creates a user with a role (request → approve) and, for
// operators, a training date; it returns the id and a session.
func (e *testEnv) addUser(tm team, name, role string) (string, *http.Cookie) {
	e.t.Helper()
	var out map[string]string
	e.must(201, "POST", "/api/v1/users", createUserRequest{User: name, Password: testOneTime}, tm.cookies["admin"], &out)
	id := out["id"]
	var g grantView
	e.must(201, "POST", "/api/v1/users/"+id+"/role", roleRequest{Role: role}, tm.cookies["admin"], &g)
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, tm.cookies["approver"], nil)
	if role == "operator" {
		e.must(204, "POST", "/api/v1/users/"+id+"/training", trainingRequest{Date: time.Now().UTC().Format(time.DateOnly)}, tm.cookies["admin"], nil)
	}
	tm.ids[name] = id
	return id, e.firstLogin(name)
}

// roleGrantOf returns the id of the user's current role assignment.
func (e *testEnv) roleGrantOf(tm team, id string) string {
	e.t.Helper()
	var us []userView
	e.must(200, "GET", "/api/v1/users", nil, tm.cookies["admin"], &us)
	for _, u := range us {
		if u.ID == id {
			return u.RoleGrant
		}
	}
	e.t.Fatalf("user %s not listed", id)
	return ""
}

// liveStops returns the details of the live.stop audit records about user.
func (e *testEnv) liveStops(userID string) []string {
	var out []string
	for _, r := range e.audit() {
		if r.Action == "live.stop" && strings.Contains(r.Detail, userID) {
			out = append(out, r.Actor+": "+r.Detail)
		}
	}
	return out
}

func (e *testEnv) wantLiveStop(userID, reason string) {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, s := range e.liveStops(userID) {
			if strings.Contains(s, reason) {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no live.stop audit record for %s with %q: %q", userID, reason, e.liveStops(userID))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue 12 finding 5 (R11, R15, R16, R18): a live view is re-authorized
// while it runs. Each loss of authorization closes the viewer within 5 s,
// audited with the reason; a viewer of another user keeps running.
func TestLiveViewReauthorized(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	admin := tm.cookies["admin"]

	// The bystander: the installer (live view for aiming) watches the whole
	// time and must never be disturbed.
	bystander := e.openLive("installer", tm.cookies["installer"], "cam1")

	step := func(name, role string, act func(id string, c *http.Cookie), reason string) {
		t.Helper()
		id, c := e.addUser(tm, name, role)
		v := e.openLive(name, c, "cam1")
		start := time.Now()
		act(id, c)
		v.closedWithin(5*time.Second - time.Since(start))
		t.Logf("%s: live view closed %s after the change was requested", name, time.Since(start).Round(time.Millisecond))
		e.wantLiveStop(id, reason)
		bystander.running()
	}

	// R11: the role assignment is revoked.
	step("op-revoked", "operator", func(id string, _ *http.Cookie) {
		e.must(200, "POST", "/api/v1/grants/"+e.roleGrantOf(tm, id)+"/revoke", reasonRequest{Reason: "moved away"}, admin, nil)
	}, "role")
	// An admin resets the password: every session of that user ends.
	step("op-reset", "operator", func(id string, _ *http.Cookie) {
		e.must(204, "POST", "/api/v1/users/"+id+"/password", passwordRequest{Password: "another long password"}, admin, nil)
	}, "password reset")
	// R15: the training date is removed.
	step("op-untrained", "operator", func(id string, _ *http.Cookie) {
		e.must(204, "POST", "/api/v1/users/"+id+"/training", trainingRequest{Date: ""}, admin, nil)
	}, "training")
	// The account is disabled.
	step("op-disabled", "operator", func(id string, _ *http.Cookie) {
		e.must(204, "POST", "/api/v1/users/"+id+"/disable", reasonRequest{Reason: "left the company"}, admin, nil)
	}, "disabled")
	// Camera scope narrowed: a new role assignment for another camera
	// supersedes the old one.
	step("op-rescoped", "operator", func(id string, _ *http.Cookie) {
		var g grantView
		e.must(201, "POST", "/api/v1/users/"+id+"/role", roleRequest{Role: "operator", Cameras: []string{"cam2"}, Supersedes: e.roleGrantOf(tm, id)}, admin, &g)
		e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, tm.cookies["approver"], nil)
	}, "scope")
	// Logout of the session that opened the viewer.
	step("op-logout", "operator", func(_ string, c *http.Cookie) {
		e.must(204, "POST", "/api/v1/logout", nil, c, nil)
	}, "logout")

	// The closings the users caused themselves carry them as the actor,
	// the others "system".
	for name, actor := range map[string]string{"op-logout": tm.ids["op-logout"], "op-reset": "system", "op-untrained": "system"} {
		found := false
		for _, s := range e.liveStops(tm.ids[name]) {
			found = found || strings.HasPrefix(s, actor+": ")
		}
		if !found {
			t.Errorf("%s: no live.stop with actor %s: %q", name, actor, e.liveStops(tm.ids[name]))
		}
	}

	// A change made outside the LAN page (the policy store itself, as the
	// CLI or an expiring role would): only the periodic re-check sees it.
	step("op-offline-untrained", "operator", func(id string, _ *http.Cookie) {
		if err := e.pol.SetTraining(context.Background(), tm.ids["admin"], id, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}, "training")

	// Session expiry (idle timeout) ends every session, the bystander's
	// too: last.
	id, c := e.addUser(tm, "op-idle", "operator")
	v := e.openLive("op-idle", c, "cam1")
	e.clock.Advance(sessionIdle + time.Minute)
	v.closedWithin(5 * time.Second)
	e.wantLiveStop(id, "expired")
	bystander.closedWithin(5 * time.Second)
	if n := e.live.Stats().Sessions; n != 0 {
		t.Errorf("%d live sessions left after every session expired", n)
	}
}

// Issue 12 finding 7 (R18): one user cannot take every live slot: the
// (n+1)th offer of one user gets 429 with a clear message; another user
// still gets a viewer.
func TestLivePerUserLimit(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	op := tm.cookies["operator"]
	for i := range 2 {
		if v, status, body := e.offerLive("op", op, "cam1"); v == nil {
			t.Fatalf("viewer %d: %d %s", i+1, status, body)
		}
	}
	v, status, body := e.offerLive("op", op, "cam1")
	if v != nil || status != http.StatusTooManyRequests || !strings.Contains(body, "at most 2 live views") {
		t.Fatalf("third viewer of one user: %d %s, want 429 'at most 2 live views'", status, body)
	}
	if v, status, body := e.offerLive("installer", tm.cookies["installer"], "cam1"); v == nil {
		t.Fatalf("another user refused after one user hit the limit: %d %s", status, body)
	}
}

// R18: a live view ends at the maximum duration (audited); the page may
// open a new one.
func TestLiveMaxDuration(t *testing.T) {
	e := newEnv(t, envOptions{liveMax: 3 * time.Second})
	tm := e.makeTeam()
	v := e.openLive("operator", tm.cookies["operator"], "cam1")
	v.closedWithin(8 * time.Second)
	e.wantLiveStop(tm.ids["operator"], "maximum")
	e.openLive("operator again", tm.cookies["operator"], "cam1")
}

// Issue 12 finding 7 (R22): logging in over and over does not evict other
// users' sessions. One user's extra logins evict only that user's oldest
// session; when the device is full, a newcomer gets 503 and nobody is
// signed out.
func TestSessionCapNoEviction(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	tm := e.makeTeam()
	// One account logs in far more often than the device has sessions.
	var mine []*http.Cookie
	for range maxSessions + 4 {
		mine = append(mine, e.login("operator", testPassword))
	}
	for _, name := range []string{"admin", "approver", "installer", "auditor", "approver2"} {
		e.must(200, "GET", "/api/v1/me", nil, tm.cookies[name], nil)
	}
	e.must(200, "GET", "/api/v1/me", nil, mine[len(mine)-1], nil)
	if got := e.jdo("GET", "/api/v1/me", nil, mine[0], nil); got != http.StatusUnauthorized {
		t.Fatalf("the operator's oldest session: %d, want 401 (evicted by the operator's own logins)", got)
	}
	// Fill the device with other accounts' sessions up to the cap.
	var everyone []*http.Cookie
	for i := 0; ; i++ {
		_, c := e.addUser(tm, "filler"+string(rune('a'+i)), "auditor")
		everyone = append(everyone, c)
		full := false
		for range maxSessionsPerUser - 1 {
			resp := e.loginJSON("filler"+string(rune('a'+i)), testPassword)
			if resp.StatusCode == http.StatusServiceUnavailable {
				msg := jsonError(t, resp, http.StatusServiceUnavailable)
				if !strings.Contains(msg, "sessions") {
					t.Fatalf("503 message %q does not say why", msg)
				}
				full = true
				break
			}
			b := readAll(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("login: %d %s", resp.StatusCode, b)
			}
			everyone = append(everyone, sessionCookieOf(t, resp))
		}
		if full {
			break
		}
		if i > maxSessions {
			t.Fatal("the session cap never refused a login")
		}
	}
	for _, name := range []string{"admin", "approver", "installer", "auditor", "approver2"} {
		e.must(200, "GET", "/api/v1/me", nil, tm.cookies[name], nil)
	}
	refused := false
	for _, r := range e.audit() {
		refused = refused || (r.Action == "login" && r.Result == "denied" && strings.Contains(r.Detail, "session limit"))
	}
	if !refused {
		t.Error("the refused login is not audited")
	}
	for i, c := range everyone {
		if got := e.jdo("GET", "/api/v1/me", nil, c, nil); got != http.StatusOK {
			t.Fatalf("session %d was evicted by a newcomer: %d", i, got)
		}
	}
}

// Issue 12 finding 7 (R11): changing one's own password ends one's other
// sessions and their live views at once; the session that changed it keeps
// working, and so does its viewer.
func TestOwnPasswordEndsOtherSessions(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	here := tm.cookies["operator"]
	there := e.login("operator", testPassword)
	vHere := e.openLive("here", here, "cam1")
	vThere := e.openLive("there", there, "cam1")
	e.must(204, "POST", "/api/v1/account/password", passwordRequest{Old: testPassword, Password: "a brand new passphrase"}, here, nil)
	if got := e.jdo("GET", "/api/v1/me", nil, there, nil); got != http.StatusUnauthorized {
		t.Fatalf("the other session after a password change: %d, want 401", got)
	}
	e.must(200, "GET", "/api/v1/me", nil, here, nil)
	vThere.closedWithin(5 * time.Second)
	e.wantLiveStop(tm.ids["operator"], "password changed")
	vHere.running()
}
