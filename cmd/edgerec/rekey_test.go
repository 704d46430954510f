package main

import (
	"bytes"
	"context"
	"errors"
	"github.com/edgerec/edgerec/storage/keyprov"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/hal/tpm"
	"github.com/edgerec/edgerec/hal/tpm/swtpmtest"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/storage"
)

// Issue 13: rekey moves a demo store (file provider) onto a TPM and then
// rotates the TPM root; footage written before reads after, every old root
// is gone (the file destroyed, the old TPM object evicted), and the store
// refuses a start that names the old provider.
func TestRekeyFileToTPMAndRotate(t *testing.T) {
	sw := swtpmtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "data")
	ks := keyprov.Settings{TPM: sw.Spec()}
	log := slog.New(slog.DiscardHandler)
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 16 << 20, Keys: keyprov.Providers(dir, ks, log)}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{Keys: keyprov.Providers(dir, ks, log)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	w, err := st.BeginSegment(ctx, storage.SegmentMeta{Camera: "door", Start: start, ClockSynced: true})
	if err != nil {
		t.Fatal(err)
	}
	frame := bytes.Repeat([]byte{0, 0, 0, 1, 0x65, 0xAB}, 100)
	for i := 0; i < 20; i++ {
		if err := w.WriteFrame(storage.Frame{Time: start.Add(time.Duration(i) * 100 * time.Millisecond), Key: i == 0, Data: frame}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sealed, _ := st.Vault().Seal("camera/door/password", []byte("S3cret-Pa55"))
	st.Close()
	oldFileRoot, _ := os.ReadFile(filepath.Join(dir, storage.RootKeyFile))

	frames := func() int {
		t.Helper()
		st, err := storage.Open(ctx, dir, storage.Options{Keys: keyprov.Providers(dir, ks, log)})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer st.Close()
		if p, err := st.Vault().Open("camera/door/password", sealed); err != nil || string(p) != "S3cret-Pa55" {
			t.Fatalf("vault: %q %v", p, err)
		}
		n := 0
		if err := st.ReadFrames(ctx, "door", start, start.Add(time.Minute), func(storage.Frame) error { n++; return nil }); err != nil {
			t.Fatalf("read: %v", err)
		}
		return n
	}

	// file → tpm2
	rep, err := storage.Rekey(ctx, dir, storage.RekeyOptions{Keys: keyprov.Providers(dir, ks, log), Staged: keyprov.Staged(dir, ks, log), Provider: storage.ProviderTPM2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.From != storage.ProviderFile || rep.To != storage.ProviderTPM2 || rep.Epochs != 1 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(dir, storage.RootKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("root.key survived the move to the TPM: %v", err)
	}
	if p, _ := storage.ReadProvider(dir); p != storage.ProviderTPM2 {
		t.Fatalf("header provider %v", p)
	}
	if n := frames(); n != 20 {
		t.Fatalf("%d frames after file→tpm2", n)
	}
	if err := keyprov.Check(dir, keyprov.Settings{Want: "file"}); !errors.Is(err, storage.ErrKeyUnavailable) {
		t.Fatalf("a config naming the old provider: %v", err)
	}
	// The old file root, put back, opens nothing: the header names the TPM.
	os.WriteFile(filepath.Join(dir, storage.RootKeyFile), oldFileRoot, 0o600)
	if _, err := storage.Open(ctx, dir, storage.Options{}); !errors.Is(err, storage.ErrKeyUnavailable) {
		t.Fatalf("open with only the file provider: %v", err)
	}
	os.Remove(filepath.Join(dir, storage.RootKeyFile))

	// tpm2 → tpm2 (rotation): a new object at the other handle, the old one evicted.
	d1, err := tpm.ReadDescriptorFile(filepath.Join(dir, storage.TPMDescriptorFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Rekey(ctx, dir, storage.RekeyOptions{Keys: keyprov.Providers(dir, ks, log), Staged: keyprov.Staged(dir, ks, log)}); err != nil {
		t.Fatal(err)
	}
	d2, err := tpm.ReadDescriptorFile(filepath.Join(dir, storage.TPMDescriptorFile))
	if err != nil {
		t.Fatal(err)
	}
	if d1.Handle == d2.Handle {
		t.Fatalf("rotation reused handle %#x", d1.Handle)
	}
	if _, err := tpm.New(keyprov.TPMOpener(sw.Spec()), nil).Load(ctx, d1); !errors.Is(err, tpm.ErrNotFound) {
		t.Fatalf("old TPM root after rotation: %v", err)
	}
	if n := frames(); n != 20 {
		t.Fatalf("%d frames after rotation", n)
	}
}

// `edgerec rekey` from the CLI (issue 13): only an admin; a demo-style
// file store moves onto a TPM; the config then names tpm2 (a start with the
// old name would be refused); the rekey is audited; check reports the new
// provider and the audit chain stays whole.
func TestCLIRekeyToTPM(t *testing.T) {
	sw := swtpmtest.New(t)
	data := provisionCLI(t, "gw-rekey")
	p := setupPeople(t, data)
	p.ps.Close()
	pw := map[string]string{"EDGEREC_PASSWORD": p.pwd}
	if code, _, errOut := runCLIEnv(t, pw, "rekey", "--data", data, "--user", p.opName, "--key-provider", "tpm2", "--tpm", sw.Spec()); code == 0 || !strings.Contains(errOut, "not an admin") {
		t.Fatalf("rekey by an operator: %d %s", code, errOut)
	}
	code, out, errOut := runCLIEnv(t, pw, "rekey", "--data", data, "--user", p.adminName, "--key-provider", "tpm2", "--tpm", sw.Spec())
	if code != 0 || !strings.Contains(out, "root key file → tpm2") {
		t.Fatalf("rekey: %d %s %s", code, out, errOut)
	}
	cfg, err := deviceConfig(data)
	if err != nil || cfg.Storage.KeyProvider != "tpm2" || cfg.Storage.TPM != sw.Spec() {
		t.Fatalf("config after rekey: %+v %v", cfg.Storage, err)
	}
	code, out, errOut = runCLI(t, "check", "--data", data)
	if code != 0 || !strings.Contains(out, "root key: tpm2") || !strings.Contains(out, "audit: ok") {
		t.Fatalf("check after rekey: %d %s %s", code, out, errOut)
	}
	ps, err := policy.Open(context.Background(), policy.Config{DataDir: data}, policy.Deps{Sealer: testVault(t, data)})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	recs, err := ps.AuditAfter(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ok, refused int
	for _, r := range recs {
		if r.Action == "device.rekey" {
			switch r.Result {
			case "ok":
				ok++
			case "refused":
				refused++
			}
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("audit: %d device.rekey ok, %d refused", ok, refused)
	}
}
