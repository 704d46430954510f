package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keys"
)

func runCLIEnv(t *testing.T, envv map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	code := dispatch(context.Background(), &env{stdout: &o, stderr: &e, getenv: func(k string) string { return envv[k] }}, args)
	return code, o.String(), e.String()
}

// testVault opens the vault of the provisioned store in dir, as the CLI
// commands do (the policy store's secrets are sealed under it, issue 13).
func testVault(t testing.TB, dir string) *keys.Vault {
	t.Helper()
	v, err := storage.OpenVault(context.Background(), dir, dirKeys(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// people sets up admin, a bootstrap approver and an operator through the
// four-eyes flow and returns an approved grant for action.
type people struct {
	ps                     *policy.Store
	admin, boss, op        string
	adminName, opName, pwd string
}

func setupPeople(t *testing.T, dir string) *people {
	t.Helper()
	ctx := context.Background()
	ps, err := policy.Open(ctx, policy.Config{DataDir: dir}, policy.Deps{Sealer: testVault(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	p := &people{ps: ps, adminName: "alice", opName: "oscar", pwd: "correct horse battery"}
	a, err := ps.Bootstrap(ctx, p.adminName, []byte(p.pwd))
	if err != nil {
		t.Fatal(err)
	}
	p.admin = a.ID
	mk := func(name string, role perm.Role, approver string) string {
		id, err := ps.CreateUser(ctx, p.admin, name, []byte("one-time from the admin"))
		if err != nil {
			t.Fatal(err)
		}
		// The owner replaces the admin's one-time password (issue 12).
		if err := ps.SetPassword(ctx, id, id, []byte("one-time from the admin"), []byte(p.pwd)); err != nil {
			t.Fatal(err)
		}
		g, err := ps.Request(ctx, p.admin, grants.Request{Action: grants.AssignRole, Purpose: "staff", Validity: 30 * 24 * time.Hour, Subject: id, Role: string(role)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ps.Approve(ctx, approver, g.ID); err != nil {
			t.Fatal(err)
		}
		return id
	}
	p.boss = mk("bob", perm.Approver, p.admin)
	p.op = mk(p.opName, perm.Operator, p.boss)
	if err := ps.SetTraining(ctx, p.admin, p.op, time.Now().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *people) grant(t *testing.T, requester string, r grants.Request) string {
	t.Helper()
	g, err := p.ps.Request(context.Background(), requester, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ps.Approve(context.Background(), p.boss, g.ID); err != nil {
		t.Fatal(err)
	}
	return g.ID
}

// TestLifecycleExportVerifyDecommission: record with the real daemon, then
// export under an approved grant from the CLI (MP4 + signed manifest),
// verify offline, detect a changed byte, refuse an export without a grant;
// then decommission under a two-person grant: the device is wiped, the
// certificate verifies (and a changed one does not), and the device
// refuses to record (R17, R25, R11, R12).
func TestLifecycleExportVerifyDecommission(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatal("ffprobe missing: run scripts/deps.sh")
	}
	data := filepath.Join(t.TempDir(), "dev")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-9}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: cam1
    name: Front door
    source: "test://pattern?width=320&height=240&fps=15"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    keyframe_interval: 1s
    masks:
      - {name: window, style: fill, polygon: [[0.1,0.1],[0.5,0.1],[0.5,0.5],[0.1,0.5]]}
lan: {listen: "127.0.0.1:18445"}
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-9", "--config", cfgPath); code != 0 {
		t.Fatal(errOut)
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var so, se syncBuf
	go func() {
		done <- dispatch(ctx, &env{stdout: &so, stderr: &se, getenv: func(string) string { return "" }}, []string{"run", "--config", filepath.Join(data, "edgerec.yaml")})
	}()
	time.Sleep(6 * time.Second)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run: %d %s", code, se.String())
	}
	end := time.Now()

	p := setupPeople(t, data)
	from, to := start.Add(1500*time.Millisecond), end.Add(-1500*time.Millisecond)
	g := p.grant(t, p.op, grants.Request{Action: grants.Export, Purpose: "police request 42", Validity: time.Hour, Cameras: []string{"cam1"}, From: from.Add(-time.Second), To: to.Add(time.Second)})
	p.ps.Close()

	out := filepath.Join(t.TempDir(), "clip.mp4")
	pw := map[string]string{"EDGEREC_PASSWORD": p.pwd}
	rfc := func(x time.Time) string { return x.UTC().Format(time.RFC3339Nano) }
	// No grant of this user's: refused, nothing written.
	if code, _, errOut := runCLIEnv(t, pw, "export", "--data", data, "--grant", "g-00000000000000000000", "--camera", "cam1", "--from", rfc(from), "--to", rfc(to), "-o", out, "--user", p.opName); code == 0 {
		t.Fatal("export without a grant succeeded")
	} else if _, err := os.Stat(out); err == nil {
		t.Fatalf("refused export wrote a file: %s", errOut)
	}
	// Outside the grant's range: refused.
	if code, _, _ := runCLIEnv(t, pw, "export", "--data", data, "--grant", g, "--camera", "cam1", "--from", rfc(from.Add(-time.Hour)), "--to", rfc(to), "-o", out, "--user", p.opName); code == 0 {
		t.Fatal("export outside the grant's range succeeded")
	}
	// Issue 13, R17: -o inside the data directory (the export and its
	// temporary file would sit there in the clear) is refused, nothing is
	// written there.
	for _, in := range []string{filepath.Join(data, "clip.mp4"), filepath.Join(data, "exports", "clip.mp4")} {
		if code, _, errOut := runCLIEnv(t, pw, "export", "--data", data, "--grant", g, "--camera", "cam1", "--from", rfc(from), "--to", rfc(to), "-o", in, "--user", p.opName); code != 2 || !strings.Contains(errOut, "outside the data directory") {
			t.Fatalf("export into the data dir: %d %s", code, errOut)
		}
		if _, err := os.Stat(in); err == nil {
			t.Fatalf("refused export wrote %s", in)
		}
	}
	if ms, _ := filepath.Glob(filepath.Join(data, ".export-*")); len(ms) > 0 {
		t.Fatalf("temp files left in the data dir: %v", ms)
	}
	code, stdout, errOut := runCLIEnv(t, pw, "export", "--data", data, "--grant", g, "--camera", "cam1", "--from", rfc(from), "--to", rfc(to), "-o", out, "--user", p.opName)
	if code != 0 {
		t.Fatalf("export: %d %s %s", code, stdout, errOut)
	}
	probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", out).Output()
	if err != nil || strings.TrimSpace(string(probe)) != "h264,320,240" {
		t.Fatalf("ffprobe: %v %q", err, probe)
	}
	code, stdout, errOut = runCLI(t, "verify", out)
	if code != 0 || !strings.Contains(stdout, "bob") || !strings.Contains(stdout, g) {
		t.Fatalf("verify: %d %s %s", code, stdout, errOut)
	}
	b, _ := os.ReadFile(out)
	b[len(b)/2] ^= 0x01
	tampered := filepath.Join(filepath.Dir(out), "tampered.mp4")
	os.WriteFile(tampered, b, 0o600)
	mb, _ := os.ReadFile(out[:len(out)-4] + ".manifest.json")
	os.WriteFile(tampered[:len(tampered)-4]+".manifest.json", mb, 0o600)
	if code, _, _ := runCLI(t, "verify", tampered); code == 0 {
		t.Fatal("a changed byte passed verification")
	}

	// Decommission: the admin requests, the approver approves.
	ps, err := policy.Open(context.Background(), policy.Config{DataDir: data}, policy.Deps{Sealer: testVault(t, data)})
	if err != nil {
		t.Fatal(err)
	}
	p.ps = ps
	dg := p.grant(t, p.admin, grants.Request{Action: grants.Decommission, Purpose: "branch closed", Validity: time.Hour})
	ps.Close()
	if code, _, _ := runCLIEnv(t, pw, "decommission", "--data", data, "--confirm", "gw-WRONG", "--grant", dg, "--user", p.adminName); code == 0 {
		t.Fatal("wrong --confirm accepted")
	}
	if _, err := os.Stat(filepath.Join(data, "root.key")); err != nil {
		t.Fatal("wrong --confirm changed something")
	}
	cert := filepath.Join(t.TempDir(), "wipe.json")
	code, stdout, errOut = runCLIEnv(t, pw, "decommission", "--data", data, "--confirm", "gw-9", "--grant", dg, "--user", p.adminName, "--cert", cert)
	if code != 0 {
		t.Fatalf("decommission: %d %s %s", code, stdout, errOut)
	}
	if code, stdout, _ := runCLI(t, "verify", cert); code != 0 || !strings.Contains(stdout, "gw-9") {
		t.Fatalf("verify certificate: %d %s", code, stdout)
	}
	cb, _ := os.ReadFile(cert)
	bad := bytes.Replace(cb, []byte(`"gw-9"`), []byte(`"gw-8"`), 1)
	os.WriteFile(cert, bad, 0o600)
	if code, _, _ := runCLI(t, "verify", cert); code == 0 {
		t.Fatal("a changed certificate verified")
	}
	if code, stdout, errOut := runCLI(t, "check", "--data", data); code == 0 || !strings.Contains(stdout+errOut, "no data") {
		t.Fatalf("check after wipe: %d %s %s", code, stdout, errOut)
	}
	// Only the wipe marker and the public key (to check the certificate
	// against) stay; every secret, sealed or not, and every maintenance
	// file is gone (issue 13, R25).
	_ = filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == data {
			return nil
		}
		rel, _ := filepath.Rel(data, p)
		switch rel {
		case storage.WipeMarkerFile, "device.ed25519.pub":
		default:
			t.Errorf("%s survived the decommission", rel)
		}
		return nil
	})
	// The device refuses to record (no config, no store) until provisioned.
	if code, _, errOut := runCLI(t, "run", "--config", cfgPath); code == 0 || !strings.Contains(errOut, "wiped") && !strings.Contains(errOut, "no data") {
		t.Fatalf("run after wipe: %d %s", code, errOut)
	}
}
