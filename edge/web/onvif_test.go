package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/onvif"
	"github.com/edgerec/edgerec/edge/onvif/onviftest"
)

const camPassword = "Cam-Secret-42!"

func onvifEnv(t *testing.T) (*testEnv, *onviftest.Device, team) {
	t.Helper()
	dev, err := onviftest.Start(onviftest.Config{Username: "onvifadmin", Password: camPassword, ClockOffset: -90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Close)
	f := &onvif.Finder{Discoverer: onvif.Discoverer{Target: dev.DiscoveryAddr(), Wait: 400 * time.Millisecond},
		ClockSynced: func() bool { return true }, SetupTimeout: 1500 * time.Millisecond, Options: []onvif.ClientOption{onvif.WithLoopback()}}
	e := newEnv(t, envOptions{finder: f})
	return e, dev, e.makeTeam()
}

type onvifSetupAnswer struct {
	Source    string           `json:"source"`
	SubSource string           `json:"sub_source"`
	Device    onvif.DeviceInfo `json:"device"`
	Profiles  []onvif.Profile  `json:"profiles"`
	Clock     struct {
		Set        bool    `json:"set"`
		OffsetSecs float64 `json:"offset_secs"`
	} `json:"clock"`
}

func TestONVIFAddCamera(t *testing.T) {
	e, dev, tm := onvifEnv(t)
	inst := tm.cookies["installer"]

	// Discovery lists the test device.
	var disc discoverView
	e.must(200, "GET", "/api/v1/onvif/discover", nil, inst, &disc)
	if len(disc.Found) != 1 || disc.Found[0].XAddrs[0] != dev.XAddr() || disc.Found[0].Name != "Loopback camera" {
		t.Fatalf("discover: %+v", disc)
	}

	// Set-up with the camera's credentials fills in the stream addresses
	// and sets the camera's clock.
	var res onvifSetupAnswer
	e.must(200, "POST", "/api/v1/onvif/setup", onvifSetupInput{XAddr: disc.Found[0].XAddrs[0], Username: "onvifadmin", Password: camPassword, SetClock: true}, inst, &res)
	if res.Source != "rtsp://127.0.0.1:8554/cam/main" || res.SubSource != "rtsp://127.0.0.1:8554/cam/sub" || res.Device.Model != "ET-2MP" ||
		res.Device.SerialNumber != "ET2M-000123" || len(res.Profiles) != 2 || !res.Clock.Set || res.Clock.OffsetSecs > -5390 || res.Clock.OffsetSecs < -5410 {
		t.Fatalf("setup: %+v", res)
	}
	if dev.Sets() != 1 {
		t.Fatalf("clock set %d times", dev.Sets())
	}

	// Only the installer's cameras.manage: operator, auditor and admin are refused, anonymous gets 401.
	for _, who := range []string{"operator", "auditor", "admin", "approver"} {
		if st := e.jdo("GET", "/api/v1/onvif/discover", nil, tm.cookies[who], nil); st != http.StatusForbidden {
			t.Fatalf("%s: discover %d", who, st)
		}
		if st := e.jdo("POST", "/api/v1/onvif/setup", onvifSetupInput{XAddr: dev.XAddr(), Username: "onvifadmin", Password: camPassword}, tm.cookies[who], nil); st != http.StatusForbidden {
			t.Fatalf("%s: setup %d", who, st)
		}
	}
	if st := e.jdo("GET", "/api/v1/onvif/discover", nil, nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", st)
	}

	// Audited, and the password is nowhere in the audit log or the logs.
	var disco, setups int
	for _, r := range e.audit() {
		switch r.Action {
		case "camera.discover":
			disco++
		case "camera.onvif_setup":
			setups++
			if r.Result == "ok" && !strings.Contains(r.Detail, "EdgerecTest ET-2MP") {
				t.Fatalf("setup audit detail %q", r.Detail)
			}
		}
		if strings.Contains(r.Detail+r.Target, camPassword) {
			t.Fatalf("password in audit record %+v", r)
		}
	}
	if disco < 1 || setups < 1 {
		t.Fatalf("audit: %d discover, %d setup records", disco, setups)
	}
	if strings.Contains(e.logs.String(), camPassword) {
		t.Fatal("password in the logs")
	}
}

func TestONVIFSetupBadInput(t *testing.T) {
	e, dev, tm := onvifEnv(t)
	inst := tm.cookies["installer"]
	post := func(in any, status int) string {
		t.Helper()
		resp := e.do("POST", "/api/v1/onvif/setup", "application/json", mustJSON(t, in), inst)
		return jsonError(t, resp, status)
	}
	ok := onvifSetupInput{XAddr: dev.XAddr(), Username: "onvifadmin", Password: camPassword, SetClock: true}

	// Wrong credentials: 422, nothing changed.
	bad := ok
	bad.Password = "not-the-password"
	if msg := post(bad, 422); !strings.Contains(msg, "refused the user name or password") || !strings.Contains(msg, "nothing was changed") {
		t.Fatalf("wrong password: %q", msg)
	}
	// The caller's input.
	for _, c := range []struct {
		in   any
		want string
	}{
		{onvifSetupInput{XAddr: "ftp://10.0.0.5/onvif", Username: "a", Password: "b"}, "http:// or https://"},
		{onvifSetupInput{XAddr: "http://admin:pw@127.0.0.1/onvif", Username: "a", Password: "b"}, "not in the device address"},
		{onvifSetupInput{XAddr: dev.XAddr(), Username: "", Password: "b"}, "user name"},
		{map[string]any{"xaddr": dev.XAddr(), "username": "a", "password": "b", "rtsp": "x"}, "rtsp"},
		{onvifSetupInput{XAddr: "http://8.8.8.8/onvif/device_service", Username: "a", Password: "b"}, "LAN only"},
	} {
		if msg := post(c.in, 400); !strings.Contains(msg, c.want) {
			t.Fatalf("%+v: %q, want %q", c.in, msg, c.want)
		}
	}
	// A camera that answers malformed XML, too much, or too slowly.
	for _, c := range []struct {
		b      onviftest.Behavior
		status int
		want   string
	}{
		{onviftest.Behavior{Op: "GetProfiles", Mode: onviftest.Malformed}, 502, "malformed"},
		{onviftest.Behavior{Op: "GetDeviceInformation", Mode: onviftest.Huge, Size: 4 << 20}, 502, "too large"},
		{onviftest.Behavior{Op: "GetStreamUri", Mode: onviftest.Slow, Delay: time.Minute}, 504, "did not answer in time"},
	} {
		dev.Behave(c.b)
		start := time.Now()
		if msg := post(ok, c.status); !strings.Contains(msg, c.want) || !strings.Contains(msg, "nothing was changed") {
			t.Fatalf("%+v: %q", c.b, msg)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("%+v took %v", c.b, el)
		}
	}
	dev.Behave(onviftest.Behavior{})
	if dev.Sets() != 0 {
		t.Fatalf("the camera's clock was set %d times by failed set-ups", dev.Sets())
	}
	for _, r := range e.audit() {
		if strings.Contains(r.Detail, camPassword) || strings.Contains(r.Detail, "not-the-password") {
			t.Fatalf("password in audit %+v", r)
		}
	}
}

// Without a finder (no ONVIF on this build), the routes answer 503.
func TestONVIFUnavailable(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	if st := e.jdo("GET", "/api/v1/onvif/discover", nil, tm.cookies["installer"], nil); st != http.StatusServiceUnavailable {
		t.Fatalf("%d", st)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
