package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/storage"
)

// TestRestoreReplacesGateway (issue 18, R26, R11): device A's signed
// backup provisions device B: B records the same cameras with the same
// masks (decoded and checked with the independent oracle), its audit log
// starts with a record that links to A's head, A's users log in on B only
// after setting passwords, and no role comes back without an approver. A
// backup pinned to another key, changed by one byte, or without a key is
// refused with nothing written.
func TestRestoreReplacesGateway(t *testing.T) {
	ctx := context.Background()
	a := filepath.Join(t.TempDir(), "gw-a")
	cfgA := filepath.Join(t.TempDir(), "a.yaml")
	body := `device: {id: gw-a, site: "Branch 12", timezone: Europe/Berlin}
storage: {data_dir: "` + a + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: door
    name: Front door
    source: "test://pattern?width=320&height=240&fps=15"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    keyframe_interval: 1s
    masks:
      - {name: window, style: fill, polygon: [[0.1,0.1],[0.5,0.1],[0.5,0.5],[0.1,0.5]]}
  - id: till
    name: Till
    source: "test://pattern?width=320&height=240&fps=15"
    zone: cash_desk
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    keyframe_interval: 1s
    masks:
      - {name: keypad, style: pixelate, polygon: [[0.55,0.5],[0.9,0.5],[0.9,0.9],[0.55,0.9]]}
lan: {listen: "127.0.0.1:18451"}
`
	if err := os.WriteFile(cfgA, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "provision", "--data", a, "--device-id", "gw-a", "--config", cfgA); code != 0 {
		t.Fatal(errOut)
	}
	p := setupPeople(t, a) // alice admin, bob approver, oscar operator
	p.ps.Close()
	backup := filepath.Join(t.TempDir(), "gw-a.backup.json")
	if code, _, errOut := runCLIEnv(t, map[string]string{"EDGEREC_PASSWORD": p.pwd}, "backup", "--data", a, "--user", p.adminName, "-o", backup); code != 0 {
		t.Fatal(errOut)
	}
	pubA := readPub(t, a)
	headA := auditHead(t, a)

	// Device C (another gateway) for a wrong key.
	c := filepath.Join(t.TempDir(), "gw-c")
	if code, _, errOut := runCLI(t, "provision", "--data", c, "--device-id", "gw-c", "--ring-size", "16MiB"); code != 0 {
		t.Fatal(errOut)
	}
	b := filepath.Join(t.TempDir(), "gw-b")
	raw, _ := os.ReadFile(backup)
	changed := slices.Clone(raw)
	i := strings.Index(string(changed), `"name":"oscar"`)
	changed[i+9] = 'O' // one byte
	changedFile := filepath.Join(t.TempDir(), "changed.json")
	os.WriteFile(changedFile, changed, 0o600)
	for name, args := range map[string][]string{
		"no key":        {"--restore", backup},
		"another key":   {"--restore", backup, "--restore-key", readPub(t, c)},
		"one byte":      {"--restore", changedFile, "--restore-key", pubA},
		"not a backup":  {"--restore", cfgA, "--restore-key", pubA},
		"key, no file":  {"--restore-key", pubA},
		"malformed key": {"--restore", backup, "--restore-key", "bm90IGEga2V5"},
	} {
		code, _, errOut := runCLI(t, append([]string{"provision", "--data", b, "--device-id", "gw-b", "--ring-size", "32MiB"}, args...)...)
		if code == 0 {
			t.Fatalf("%s: restore accepted", name)
		}
		if _, err := os.Stat(b); err == nil {
			t.Fatalf("%s: refused restore wrote %s", name, b)
		}
		t.Logf("%s: %s", name, strings.TrimSpace(errOut))
	}

	// The restore.
	code, out, errOut := runCLI(t, "provision", "--data", b, "--device-id", "gw-b", "--ring-size", "32MiB", "--restore", backup, "--restore-key", pubA)
	if code != 0 {
		t.Fatalf("restore: %d %s %s", code, out, errOut)
	}
	t.Logf("%s%s", out, errOut)
	if !strings.Contains(out, "replaces gw-a") || !strings.Contains(out, "3 accounts without password or role") {
		t.Errorf("restore output:\n%s", out)
	}
	cfgB, err := config.Load(filepath.Join(b, "edgerec.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfgB.Device.ID != "gw-b" || cfgB.Device.Site != "Branch 12" || cfgB.Device.Timezone != "Europe/Berlin" || len(cfgB.Cameras) != 2 {
		t.Fatalf("B's config: %+v", cfgB.Device)
	}
	cfgAl, _ := config.Load(filepath.Join(a, "edgerec.yaml"))
	for i, cam := range cfgB.Cameras {
		if fmt.Sprint(cam.MaskList()) != fmt.Sprint(cfgAl.Cameras[i].MaskList()) || cam.ID != cfgAl.Cameras[i].ID || cam.Zone != cfgAl.Cameras[i].Zone {
			t.Errorf("camera %s differs from A's", cam.ID)
		}
	}

	// B's audit log starts with the link to A's head.
	ps, err := policy.Open(ctx, policy.Config{DataDir: b}, policy.Deps{Sealer: testVault(t, b)})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ps.AuditAfter(ctx, 0, 1)
	if err != nil || len(recs) != 1 {
		t.Fatal(recs, err)
	}
	if r := recs[0]; r.Seq != 1 || r.Action != "device.restore" || !strings.Contains(r.Detail, fmt.Sprintf("head seq %d hash %s", headA.seq, headA.hash)) {
		t.Errorf("B's first audit record: %+v (A's head %d %s)", r, headA.seq, headA.hash)
	}
	// A's users: nobody gets in without a password; the admin claims hers
	// with the setup; oscar logs in after setting his own; no role.
	if _, err := ps.Authenticate(ctx, "oscar", []byte(p.pwd)); err == nil {
		t.Error("oscar logged in on B with A's password")
	}
	admin, err := ps.Bootstrap(ctx, "alice", []byte("alice on gw-b"))
	if err != nil || admin.Role != perm.Admin {
		t.Fatalf("claim the admin on B: %+v %v", admin, err)
	}
	var oscar string
	us, _ := ps.Users(ctx)
	for _, u := range us {
		if u.Name == "oscar" {
			oscar = u.ID
		}
	}
	if err := ps.SetPassword(ctx, admin.ID, oscar, nil, []byte("one-time for oscar")); err != nil {
		t.Fatal(err)
	}
	if err := ps.SetPassword(ctx, oscar, oscar, []byte("one-time for oscar"), []byte("oscar's own on gw-b")); err != nil {
		t.Fatal(err)
	}
	if pr, err := ps.Authenticate(ctx, "oscar", []byte("oscar's own on gw-b")); err != nil || pr.Role != "" || pr.MustChange {
		t.Errorf("oscar on B: %+v %v", pr, err)
	}
	g, err := ps.Request(ctx, admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "as on gw-a", Validity: 24 * time.Hour, Subject: oscar, Role: string(perm.Operator)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Approve(ctx, admin.ID, g.ID); err == nil {
		t.Error("the admin alone gave oscar his operator role back")
	}
	ps.Close()
	if _, err := os.Stat(filepath.Join(b, "restored-from-gw-a.json")); err != nil {
		t.Errorf("the backup is not kept on B: %v", err)
	}

	// B records both cameras with A's masks.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan int, 1)
	var so, se syncBuf
	go func() {
		done <- dispatch(rctx, &env{stdout: &so, stderr: &se, getenv: func(string) string { return "" }}, []string{"run", "--config", filepath.Join(b, "edgerec.yaml")})
	}()
	time.Sleep(5 * time.Second)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run B: %d %s", code, se.String())
	}
	store, err := storage.Open(ctx, b, storage.Options{Keys: dirKeys(b, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, cam := range cfgB.Cameras {
		dec, err := codec.NewDecoder()
		if err != nil {
			t.Fatal(err)
		}
		pictures := 0
		err = store.ReadFrames(ctx, cam.ID, time.Now().Add(-time.Minute), time.Now(), func(f storage.Frame) error {
			pic, err := dec.Decode(f.Data)
			if err != nil || pic == nil {
				return err
			}
			pictures++
			if res := (pipeline.MaskCheck{}).Check(pic, cam.MaskList()); !res.OK {
				return fmt.Errorf("picture %d: %+v", pictures, res.Masks)
			}
			return nil
		})
		dec.Close()
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("%s on B: %v", cam.ID, err)
		}
		if pictures < 15 {
			t.Errorf("%s on B: %d masked pictures recorded", cam.ID, pictures)
		}
		t.Logf("%s on B: %d pictures, masks as on A", cam.ID, pictures)
	}
}

func readPub(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "device.ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(b)), "ed25519 ")
}

type head struct {
	seq  uint64
	hash string
}

func auditHead(t *testing.T, dir string) head {
	t.Helper()
	ps, err := policy.Open(context.Background(), policy.Config{DataDir: dir}, policy.Deps{Sealer: testVault(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	seq, h := ps.Head()
	return head{seq, fmt.Sprintf("%x", h)}
}
