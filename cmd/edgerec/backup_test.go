package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerec/edgerec/edge/export"
)

// TestBackup: an admin takes a signed backup of the device state (R26):
// config with the uplink password redacted, users without password
// hashes, the audit log; no key material; a non-admin is refused.
func TestBackup(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-b}
storage: {data_dir: "` + data + `", ring_size: 16MiB}
uplink: {broker: "mqtts://127.0.0.1:8883", username: ops, password: "uplink-s3cret"}
lan: {listen: "127.0.0.1:18446"}
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-b", "--config", cfgPath); code != 0 {
		t.Fatal(errOut)
	}
	p := setupPeople(t, data)
	pw := map[string]string{"EDGEREC_PASSWORD": p.pwd}
	// Issue 18: beside a running recorder (here: the policy store held
	// open) the CLI says what to do instead of "database in use".
	if code, _, errOut := runCLIEnv(t, pw, "backup", "--data", data, "--user", p.adminName, "-o", filepath.Join(t.TempDir(), "b.json")); code == 0 ||
		!strings.Contains(errOut, "the recorder is running on "+data) || !strings.Contains(errOut, "LAN page") {
		t.Fatalf("backup beside a running recorder: %d %q", code, errOut)
	}
	p.ps.Close()
	out := filepath.Join(t.TempDir(), "backup.json")
	if code, _, errOut := runCLIEnv(t, pw, "backup", "--data", data, "--user", p.opName, "-o", out); code == 0 || !strings.Contains(errOut, "not an admin") {
		t.Fatalf("operator backup: %d %s", code, errOut)
	}
	code, stdout, errOut := runCLIEnv(t, pw, "backup", "--data", data, "--user", p.adminName, "-o", out)
	if code != 0 {
		t.Fatalf("backup: %d %s %s", code, stdout, errOut)
	}
	doc, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.OpenDoc(doc); err != nil {
		t.Fatalf("backup signature: %v", err)
	}
	s := string(doc)
	for _, bad := range []string{"uplink-s3cret", "$argon2id", "PRIVATE KEY"} {
		if strings.Contains(s, bad) {
			t.Errorf("backup contains %q", bad)
		}
	}
	for _, want := range []string{p.adminName, p.opName, "grant.approve", "gw-b"} {
		if !strings.Contains(s, want) {
			t.Errorf("backup lacks %q", want)
		}
	}
	root, _ := os.ReadFile(filepath.Join(data, "root.key"))
	if len(root) > 0 && strings.Contains(s, string(root)) {
		t.Error("backup contains the root key")
	}
}
