package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// TestSecurityEventsReachUpstream (issue 12; R11–R13, R22, R24): what an
// admin does to get around four eyes shows up at ops as events on the
// broker, whether it worked or not — the first-approver exception used,
// then refused after the admin disabled the approver, the approver
// disabled, a password reset, a role revoked — and a burst of failed
// logins arrives as login.burst. The real daemon and mosquitto (mutual
// TLS) on loopback.
func TestSecurityEventsReachUpstream(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-security", "edgerec/gw-sec/event", false)
	data := filepath.Join(t.TempDir(), "dev")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-sec}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: cam1
    source: "test://pattern?width=160&height=120&fps=5"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
lan: {listen: "127.0.0.1:18449"}
uplink:
  broker: "` + b.URL() + `"
  ca: "` + b.Certs.CA + `"
  cert: "` + b.Certs.ClientCert + `"
  key: "` + b.Certs.ClientKey + `"
  beacon_interval: 5s
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-sec", "--config", cfgPath)
	if code != 0 {
		t.Fatal(errOut)
	}
	setup := regexp.MustCompile(`setup code:\s+(\S+)`).FindStringSubmatch(out)
	if setup == nil {
		t.Fatalf("no setup code:\n%s", out)
	}
	d := startTestDaemon(t, filepath.Join(data, "edgerec.yaml"))
	defer d.stop(t)
	base := d.base
	const pw, otp = "a long test password", "one-time from the admin"
	admin := newAPIClient(t, base)
	admin.must("POST", "/api/v1/setup", map[string]string{"code": setup[1], "user": "alice", "password": pw}, nil)
	var u, g struct{ ID string }
	admin.must("POST", "/api/v1/users", map[string]string{"user": "bob", "password": otp}, &u)
	bob := u.ID
	admin.must("POST", "/api/v1/users/"+bob+"/role", map[string]any{"role": "approver", "purpose": "staff", "validity_days": 30}, nil) // bootstrap_used
	admin.must("POST", "/api/v1/users/"+bob+"/password", map[string]string{"password": "reset by alice"}, nil)                         // password_reset (+ role revoked)
	admin.must("POST", "/api/v1/users", map[string]string{"user": "puppet", "password": otp}, &u)
	admin.must("POST", "/api/v1/users/"+u.ID+"/role", map[string]any{"role": "approver", "purpose": "puppet", "validity_days": 30}, &g)
	if st := admin.call("POST", "/api/v1/grants/"+g.ID+"/approve", map[string]any{}, nil); st < 400 {
		t.Fatalf("second bootstrap through approve: %d", st)
	}
	if st := admin.call("POST", "/api/v1/users/"+bob+"/disable", map[string]string{"reason": "leaving"}, nil); st >= 300 {
		t.Fatalf("disable: %d", st)
	}
	anon := newAPIClient(t, base)
	for range 7 {
		anon.call("POST", "/api/v1/login", map[string]string{"user": "alice", "password": "guessing wrong"}, nil)
	}

	want := []string{"bootstrap_used", "password_reset", "bootstrap_refused", "login.burst"}
	sub.Wait(t, 30*time.Second, "security events", func(ms []uplinktest.Message) bool {
		var seen []string
		for _, m := range ms {
			var ev wire.Event
			if _, err := ev.UnmarshalMsg(m.Payload); err != nil {
				continue
			}
			if ev.Kind == wire.EvAccountSecurity {
				seen = append(seen, ev.Code)
			}
			if ev.Kind == wire.EvLoginBurst {
				seen = append(seen, ev.Kind)
			}
		}
		for _, w := range want {
			if !slices.Contains(seen, w) {
				return false
			}
		}
		return true
	})
}
