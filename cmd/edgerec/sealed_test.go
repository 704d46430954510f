package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/devkey"
)

// provisionCLI provisions a device with `edgerec provision` (file key
// provider) and returns its data dir.
func provisionCLI(t *testing.T, id string) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "dev")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := "device: {id: " + id + "}\nstorage: {data_dir: \"" + data + "\", ring_size: 16MiB}\nlan: {listen: \"127.0.0.1:18447\"}\n"
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "provision", "--data", data, "--device-id", id, "--config", cfgPath); code != 0 {
		t.Fatal(errOut)
	}
	return data
}

// TestR32PolicySecretsSealedOnCard: issue 13, R32, R20 — on a provisioned
// device with users whose passwords were changed, neither the signing key
// files nor policy.db hold a PEM block, an argon2id hash or a password;
// the CLI still logs in, signs (backup) and verifies (check) with the
// sealed key. A signing key or a policy.db copied from another device is
// refused with one clear error and changes nothing.
func TestR32PolicySecretsSealedOnCard(t *testing.T) {
	data := provisionCLI(t, "gw-s1")
	p := setupPeople(t, data)
	for _, pw := range []string{"second password for oscar", "third password for oscar"} {
		if err := p.ps.SetPassword(t.Context(), p.op, p.op, []byte(p.pwd), []byte(pw)); err != nil {
			t.Fatal(err)
		}
		if err := p.ps.SetPassword(t.Context(), p.op, p.op, []byte(pw), []byte(p.pwd)); err != nil {
			t.Fatal(err)
		}
	}
	p.ps.Close()

	for _, name := range []string{devkey.PrivateFile, devkey.PublicFile, policy.DBFile} {
		b, err := os.ReadFile(filepath.Join(data, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"-----BEGIN", "$argon2", p.pwd, "second password", "third password"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s holds %q", name, bad)
			}
		}
	}
	pw := map[string]string{"EDGEREC_PASSWORD": p.pwd}
	out := filepath.Join(t.TempDir(), "backup.json")
	if code, _, errOut := runCLIEnv(t, pw, "backup", "--data", data, "--user", p.adminName, "-o", out); code != 0 {
		t.Fatalf("backup with the sealed key: %d %s", code, errOut)
	}
	doc, _ := os.ReadFile(out)
	if _, err := export.OpenDoc(doc); err != nil {
		t.Fatalf("backup signature: %v", err)
	}
	if code, stdout, errOut := runCLI(t, "check", "--data", data, "--quick"); code != 0 || !strings.Contains(stdout, "audit") {
		t.Fatalf("check: %d %s %s", code, stdout, errOut)
	}

	other := provisionCLI(t, "gw-s2")
	for _, name := range []string{devkey.PrivateFile, policy.DBFile} {
		t.Run("copied "+name, func(t *testing.T) {
			own, _ := os.ReadFile(filepath.Join(data, name))
			foreign, _ := os.ReadFile(filepath.Join(other, name))
			if err := os.WriteFile(filepath.Join(data, name), foreign, 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(filepath.Join(data, name), own, 0o600)
			code, _, errOut := runCLIEnv(t, pw, "backup", "--data", data, "--user", p.adminName, "-o", filepath.Join(t.TempDir(), "b.json"))
			t.Logf("refused: %s", strings.TrimSpace(errOut))
			if code == 0 || !strings.Contains(errOut, "another device") || strings.Contains(errOut, "panic") {
				t.Fatalf("backup with %s from another device: %d %s", name, code, errOut)
			}
			if after, _ := os.ReadFile(filepath.Join(data, name)); !bytes.Equal(after, foreign) {
				t.Errorf("%s was changed by the refused open", name)
			}
		})
	}
	if code, _, errOut := runCLIEnv(t, pw, "backup", "--data", data, "--user", p.adminName, "-o", out); code != 0 {
		t.Fatalf("backup after restoring the files: %d %s", code, errOut)
	}
}
