package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/export"
)

type apiClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newAPIClient(t *testing.T, base string) *apiClient {
	jar, _ := cookiejar.New(nil)
	return &apiClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed device cert
	}}}
}

func (a *apiClient) call(method, path string, in, out any) int {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, body)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if b, ok := out.(*[]byte); ok {
			*b = raw
		} else if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	if resp.StatusCode >= 300 {
		a.t.Logf("%s %s → %d %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	return resp.StatusCode
}

func (a *apiClient) must(method, path string, in, out any) {
	a.t.Helper()
	if st := a.call(method, path, in, out); st >= 300 {
		a.t.Fatalf("%s %s: status %d", method, path, st)
	}
}

// TestDaemonExportAndDecommissionOverLAN drives the real daemon through the
// LAN API: setup code → admin; approver and operator through four eyes;
// the operator exports under an approved grant (MP4 + signed manifest that
// verify offline); then the two-person decommission wizard wipes the
// device: certificate returned and valid, daemon exits, data gone (R17,
// R25, R11, R12).
func TestDaemonExportAndDecommissionOverLAN(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-http}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: cam1
    name: Lobby
    source: "test://pattern?width=320&height=240&fps=15"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    keyframe_interval: 1s
lan: {listen: "127.0.0.1:18447"}
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-http", "--config", cfgPath)
	if code != 0 {
		t.Fatal(errOut)
	}
	setup := regexp.MustCompile(`setup code:\s+(\S+)`).FindStringSubmatch(out)
	if setup == nil {
		t.Fatalf("provision printed no setup code:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var so, se syncBuf
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, &env{stdout: &so, stderr: &se, getenv: func(string) string { return "" }}, []string{"run", "--config", filepath.Join(data, "edgerec.yaml"), "--listen", "127.0.0.1:0"})
	}()
	var base string
	for i := 0; i < 100 && base == ""; i++ {
		if m := regexp.MustCompile(`LAN page:\s+(https://\S+)/`).FindStringSubmatch(so.String()); m != nil {
			base = m[1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	if base == "" {
		t.Fatalf("daemon did not start:\n%s\n%s", so.String(), se.String())
	}
	recStart := time.Now()
	const pw = "a long test password"
	admin := newAPIClient(t, base)
	admin.must("POST", "/api/v1/setup", map[string]string{"code": setup[1], "user": "alice", "password": pw}, nil)
	admin.must("POST", "/api/v1/login", map[string]string{"user": "alice", "password": pw}, nil)
	var u struct{ ID string }
	const otp = "one-time from the admin"
	admin.must("POST", "/api/v1/users", map[string]string{"user": "bob", "password": otp}, &u)
	bobID := u.ID
	admin.must("POST", "/api/v1/users/"+bobID+"/role", map[string]any{"role": "approver", "purpose": "staff", "validity_days": 30}, nil)
	admin.must("POST", "/api/v1/users", map[string]string{"user": "oscar", "password": otp}, &u)
	oscarID := u.ID
	var rg struct{ ID string }
	admin.must("POST", "/api/v1/users/"+oscarID+"/role", map[string]any{"role": "operator", "purpose": "staff", "validity_days": 30}, &rg)
	admin.must("POST", "/api/v1/users/"+oscarID+"/training", map[string]string{"date": time.Now().Add(-48 * time.Hour).Format("2006-01-02")}, nil)
	bob := newAPIClient(t, base)
	bob.must("POST", "/api/v1/login", map[string]string{"user": "bob", "password": otp}, nil)
	bob.must("POST", "/api/v1/account/password", map[string]string{"old": otp, "password": pw}, nil) // issue 12: own password first
	bob.must("POST", "/api/v1/grants/"+rg.ID+"/approve", map[string]any{}, nil)

	time.Sleep(time.Until(recStart.Add(7 * time.Second)))
	from, to := recStart.Add(2*time.Second), time.Now().Add(-2*time.Second)
	oscar := newAPIClient(t, base)
	oscar.must("POST", "/api/v1/login", map[string]string{"user": "oscar", "password": otp}, nil)
	oscar.must("POST", "/api/v1/account/password", map[string]string{"old": otp, "password": pw}, nil)
	// Without a grant: refused.
	if st := oscar.call("POST", "/api/v1/exports", map[string]any{"grant": "g-00000000000000000000", "camera": "cam1", "from": from, "to": to}, nil); st != http.StatusForbidden && st != http.StatusNotFound {
		t.Fatalf("export without a grant: %d", st)
	}
	var g struct{ ID string }
	oscar.must("POST", "/api/v1/grants", map[string]any{"action": "export", "purpose": "incident 7", "cameras": []string{"cam1"}, "from": from.Add(-time.Second), "to": to.Add(time.Second), "validity_hours": 1}, &g)
	bob.must("POST", "/api/v1/grants/"+g.ID+"/approve", map[string]any{}, nil)
	var st struct {
		ID, State, Error string
	}
	oscar.must("POST", "/api/v1/exports", map[string]any{"grant": g.ID, "camera": "cam1", "from": from, "to": to}, &st)
	for i := 0; i < 100 && st.State == "running"; i++ {
		time.Sleep(100 * time.Millisecond)
		oscar.must("GET", "/api/v1/exports/"+st.ID, nil, &st)
	}
	if st.State != "done" {
		t.Fatalf("export %s: %s %s", st.ID, st.State, st.Error)
	}
	var mp4, manifest []byte
	oscar.must("GET", "/api/v1/exports/"+st.ID+"/mp4", nil, &mp4)
	oscar.must("GET", "/api/v1/exports/"+st.ID+"/manifest", nil, &manifest)
	m, err := export.Verify(manifest, bytes.NewReader(mp4))
	if err != nil {
		t.Fatalf("downloaded export does not verify: %v", err)
	}
	if m.Exporter != "oscar" || m.Approver != "bob" || m.Grant != g.ID {
		t.Fatalf("manifest: exporter %q approver %q grant %q", m.Exporter, m.Approver, m.Grant)
	}
	mp4[len(mp4)/3] ^= 1
	if _, err := export.Verify(manifest, bytes.NewReader(mp4)); err == nil {
		t.Fatal("changed MP4 verified")
	}

	// Backup (R26): admin only; signed; no password hashes.
	if st := oscar.call("GET", "/api/v1/backup", nil, nil); st != http.StatusForbidden {
		t.Fatalf("operator backup: %d", st)
	}
	var bk []byte
	admin.must("GET", "/api/v1/backup", nil, &bk)
	if _, err := export.OpenDoc(bk); err != nil {
		t.Fatalf("backup signature: %v", err)
	}
	if bytes.Contains(bk, []byte("$argon2id")) || !bytes.Contains(bk, []byte("oscar")) || !bytes.Contains(bk, []byte(g.ID)) {
		t.Fatalf("backup content: %.300s", bk)
	}

	// Decommission: admin requests, approver approves, admin confirms.
	var dg struct{ ID string }
	admin.must("POST", "/api/v1/decommission/request", map[string]any{"purpose": "branch closed", "validity_hours": 1}, &dg)
	if st := admin.call("POST", "/api/v1/decommission", map[string]string{"grant": dg.ID, "confirm": "gw-http"}, nil); st < 400 {
		t.Fatal("decommission before approval worked")
	}
	bob.must("POST", "/api/v1/grants/"+dg.ID+"/approve", map[string]any{}, nil)
	if st := admin.call("POST", "/api/v1/decommission", map[string]string{"grant": dg.ID, "confirm": "gw-wrong"}, nil); st < 400 {
		t.Fatal("wrong confirmation accepted")
	}
	var cert []byte
	admin.must("POST", "/api/v1/decommission", map[string]string{"grant": dg.ID, "confirm": "gw-http"}, &cert)
	wc, err := export.VerifyWipeCertificate(cert)
	if err != nil {
		t.Fatalf("certificate: %v", err)
	}
	if wc.Device != "gw-http" || wc.Admin != "alice" || wc.Approver != "bob" || !wc.Complete {
		t.Fatalf("certificate: %+v", wc)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("daemon exit %d after decommission: %s", code, se.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop after decommission")
	}
	for _, name := range []string{"root.key", "policy.db", "device.ed25519", "edgerec.yaml", "index.db", "exports"} {
		if _, err := os.Stat(filepath.Join(data, name)); err == nil {
			t.Errorf("%s survived the decommission", name)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "wipe-certificate.json")); err != nil {
		t.Errorf("no certificate kept on the device: %v", err)
	}
	if code, _, errOut := runCLI(t, "check", "--data", data); code == 0 || !strings.Contains(errOut, "no data") && !strings.Contains(errOut, "wiped") {
		t.Fatalf("check after wipe: %d %s", code, errOut)
	}
}
