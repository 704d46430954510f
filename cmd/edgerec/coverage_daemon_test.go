package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
)

// daemonRun starts the real daemon on a free port and returns its LAN page
// base URL and a stop function that waits for it to exit.
func daemonRun(t *testing.T, cfgPath string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var so, se syncBuf
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, &env{stdout: &so, stderr: &se, getenv: func(string) string { return "" }}, []string{"run", "--config", cfgPath, "--listen", "127.0.0.1:0"})
	}()
	var base string
	for i := 0; i < 150 && base == ""; i++ {
		if m := regexp.MustCompile(`LAN page:\s+(https://\S+)/`).FindStringSubmatch(so.String()); m != nil {
			base = m[1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	if base == "" {
		cancel()
		t.Fatalf("daemon did not start:\n%s\n%s", so.String(), se.String())
	}
	return base, func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("daemon exit %d: %s", code, se.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("daemon did not stop")
		}
	}
}

func auditOf(t *testing.T, data string) []audit.Record {
	t.Helper()
	ps, err := policy.Open(context.Background(), policy.Config{DataDir: data}, policy.Deps{Sealer: testVault(t, data)})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	recs, err := ps.AuditAfter(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestDaemonCoverageNeedsApproval drives the real daemon over the LAN API
// (issue 12 finding 8, R27, R16): an installer's mask deletion, zone
// change and camera removal answer 202 with a request and change nothing;
// the requester cannot approve; the approver's approval applies the change
// at once, audited with the grant id; adding a mask applies at once. A
// removal approved while the daemon is down is applied at the next start,
// once. An edit of edgerec.yaml outside the device is audited at start as
// config.external_change with the camera ids.
func TestDaemonCoverageNeedsApproval(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev")
	cfgIn := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-cov}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: cam1
    source: "test://pattern?width=320&height=240&fps=10"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    masks:
      - {name: window, style: fill, polygon: [[0.05,0.08],[0.35,0.08],[0.35,0.40],[0.05,0.40]]}
  - id: cam2
    source: "test://pattern?width=320&height=240&fps=10"
    zone: corridor
    signage: {attested_by: "A. Installer", date: 2026-11-27}
lan: {listen: "127.0.0.1:18449"}
`
	if err := os.WriteFile(cfgIn, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-cov", "--config", cfgIn)
	if code != 0 {
		t.Fatal(errOut)
	}
	setup := regexp.MustCompile(`setup code:\s+(\S+)`).FindStringSubmatch(out)
	cfgPath := filepath.Join(data, "edgerec.yaml")
	base, stop := daemonRun(t, cfgPath)

	const pw = "a long test password"
	admin := newAPIClient(t, base)
	admin.must("POST", "/api/v1/setup", map[string]string{"code": setup[1], "user": "alice", "password": pw}, nil)
	var u struct{ ID string }
	const otp = "one-time from the admin"
	admin.must("POST", "/api/v1/users", map[string]string{"user": "bob", "password": otp}, &u)
	bobID := u.ID
	admin.must("POST", "/api/v1/users/"+bobID+"/role", map[string]any{"role": "approver", "purpose": "staff", "validity_days": 30}, nil)
	admin.must("POST", "/api/v1/users", map[string]string{"user": "ian", "password": otp}, &u)
	var rg struct{ ID string }
	admin.must("POST", "/api/v1/users/"+u.ID+"/role", map[string]any{"role": "installer", "purpose": "staff", "validity_days": 30}, &rg)
	bob := newAPIClient(t, base)
	bob.must("POST", "/api/v1/login", map[string]string{"user": "bob", "password": otp}, nil)
	bob.must("POST", "/api/v1/account/password", map[string]string{"old": otp, "password": pw}, nil)
	bob.must("POST", "/api/v1/grants/"+rg.ID+"/approve", map[string]any{}, nil)
	ian := newAPIClient(t, base)
	ian.must("POST", "/api/v1/login", map[string]string{"user": "ian", "password": otp}, nil)
	ian.must("POST", "/api/v1/account/password", map[string]string{"old": otp, "password": pw}, nil)

	type pending struct{ State, Request, Kind, Message string }
	yaml0, _ := os.ReadFile(cfgPath)
	var p1, p2, p3 pending
	if st := ian.call("PUT", "/api/v1/cameras/cam1/masks", map[string]any{"masks": []any{}}, &p1); st != http.StatusAccepted || p1.Kind != "mask_reduce" || !strings.Contains(p1.Message, "waiting for approval (request g-") {
		t.Fatalf("mask deletion by one person: %d %+v", st, p1)
	}
	cam2 := map[string]any{"name": "cam2", "zone": "lobby", "signage_by": "A. Installer", "signage_date": "2026-11-27"}
	if st := ian.call("PUT", "/api/v1/cameras/cam2", cam2, &p2); st != http.StatusAccepted || p2.Kind != "zone_change" {
		t.Fatalf("zone change by one person: %d %+v", st, p2)
	}
	if st := ian.call("DELETE", "/api/v1/cameras/cam2", nil, &p3); st != http.StatusAccepted || p3.Kind != "remove" {
		t.Fatalf("removal by one person: %d %+v", st, p3)
	}
	if y, _ := os.ReadFile(cfgPath); string(y) != string(yaml0) {
		t.Fatal("a change waiting for approval rewrote edgerec.yaml")
	}
	var cam struct {
		Zone  string
		Masks []struct{ Name string }
	}
	ian.must("GET", "/api/v1/cameras/cam1", nil, &cam)
	if len(cam.Masks) != 1 {
		t.Fatalf("mask deleted before approval: %+v", cam)
	}
	// The approver sees what is asked; the requester cannot approve.
	var list []struct{ ID, Action, Kind, State string }
	bob.must("GET", "/api/v1/grants", nil, &list)
	found := 0
	for _, g := range list {
		if g.Action == "coverage" && g.State == "requested" && (g.ID == p1.Request && g.Kind == "mask_reduce" || g.ID == p3.Request && g.Kind == "remove") {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("requests page: %+v", list)
	}
	if st := ian.call("POST", "/api/v1/grants/"+p1.Request+"/approve", map[string]any{}, nil); st != http.StatusForbidden {
		t.Fatalf("requester approved: %d", st)
	}
	// Adding a mask applies at once.
	addMask := map[string]any{"masks": []any{
		map[string]any{"name": "window", "style": "fill", "polygon": [][]float64{{0.05, 0.08}, {0.35, 0.08}, {0.35, 0.40}, {0.05, 0.40}}},
		map[string]any{"name": "sign", "style": "pixelate", "polygon": [][]float64{{0.5, 0.5}, {0.6, 0.5}, {0.6, 0.6}}},
	}}
	if st := ian.call("PUT", "/api/v1/cameras/cam2/masks", addMask, nil); st != http.StatusNoContent {
		t.Fatalf("adding masks: %d", st)
	}
	// The zone change was proposed against cam2 without masks: now stale.
	if st := bob.call("POST", "/api/v1/grants/"+p2.Request+"/approve", map[string]any{}, nil); st != http.StatusConflict {
		t.Fatalf("stale zone change: %d", st)
	}
	// The mask deletion, approved, applies now.
	bob.must("POST", "/api/v1/grants/"+p1.Request+"/approve", map[string]any{}, nil)
	ian.must("GET", "/api/v1/cameras/cam1", nil, &cam)
	if len(cam.Masks) != 0 {
		t.Fatalf("approved deletion not applied: %+v", cam)
	}
	// The removal of cam2 is re-requested (its masks changed) and left
	// pending while the daemon stops.
	if st := ian.call("DELETE", "/api/v1/cameras/cam2", nil, &p3); st != http.StatusAccepted {
		t.Fatalf("removal: %d", st)
	}
	stop()

	// Approved while the daemon is down: applied at the next start, once.
	ps, err := policy.Open(context.Background(), policy.Config{DataDir: data}, policy.Deps{Sealer: testVault(t, data)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Approve(context.Background(), bobID, p3.Request); err != nil {
		t.Fatal(err)
	}
	ps.Close()
	_, stop = daemonRun(t, cfgPath)
	stop()
	c, err := config.Load(cfgPath)
	if err != nil || len(c.Cameras) != 1 || c.Cameras[0].ID != "cam1" {
		t.Fatalf("approved removal not applied at start: %v %+v", err, c)
	}
	// An edit outside the device is audited at the next start (R16).
	edited := strings.Replace(string(mustRead(t, cfgPath)), "zone: entrance", "zone: lobby", 1)
	if err := os.WriteFile(cfgPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stop = daemonRun(t, cfgPath)
	stop()
	_, stop = daemonRun(t, cfgPath) // unchanged since: not reported again
	stop()

	applied := map[string]int{}
	external := []string{}
	for _, r := range auditOf(t, data) {
		if r.Action == "coverage.apply" && r.Result == "ok" {
			applied[r.Grant]++
		}
		if r.Action == "config.external_change" {
			external = append(external, r.Detail)
		}
	}
	if applied[p1.Request] != 1 || applied[p3.Request] != 1 || applied[p2.Request] != 0 {
		t.Fatalf("coverage.apply records per grant: %v", applied)
	}
	if len(external) != 1 || !strings.Contains(external[0], "changed=cam1") || strings.Contains(external[0], "cam2") {
		t.Fatalf("config.external_change records: %q", external)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
