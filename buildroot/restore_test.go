package buildroot_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/policy/audit"
)

// oldBackup is a signed backup of a gateway "gw-old" (one camera with a
// mask, its URL's credentials redacted as backups do), and its key line.
func oldBackup(t *testing.T) (signed []byte, keyLine string) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := audit.Record{Seq: 1, Time: time.Now().UnixNano(), Actor: "system", Action: "user.bootstrap", TargetKind: "user", Target: "u-1", Result: "ok"}
	doc := export.BackupDoc{Device: "gw-old", Created: time.Now().UTC().Truncate(time.Second), By: "alice",
		Config: `device: {id: gw-old, site: "Branch 12", timezone: Europe/Berlin}
storage: {data_dir: /data/edgerec, ring_size: 64MiB}
cameras:
  - id: door
    name: Front door
    source: "rtsp://REDACTED@192.168.1.20:554/main"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    masks:
      - {name: window, style: fill, polygon: [[0.1,0.1],[0.5,0.1],[0.5,0.5],[0.1,0.5]]}
lan: {listen: "127.0.0.1:8443"}
`,
		Users: []export.BackupUser{{ID: "u-1", Name: "alice", Role: "admin", Created: time.Now().UTC().Truncate(time.Second)}},
		Audit: []audit.Record{rec}, Head: 1}
	signed, err = export.SignDoc(export.BackupKind, doc, key)
	if err != nil {
		t.Fatal(err)
	}
	return signed, "ed25519 " + base64.StdEncoding.EncodeToString(pub)
}

// TestFirstbootRestoresFromBackup (issue 18): a bundle with restore/
// provisions the replacement of the backed-up gateway on first boot — the
// old cameras and masks on the new identity and uplink; the backup's
// camera credentials are not there; the backup kept in the data dir, the
// bundle deleted. Without the old device's key, or with another key, the
// bundle fails with a note and nothing is provisioned.
func TestFirstbootRestoresFromBackup(t *testing.T) {
	bin := edgerecBinary(t)
	signed, keyLine := oldBackup(t)
	_, otherKey := oldBackup(t)
	certPEM, keyPEM, _ := uplinkPair(t)
	bundle := func(e fbEnv) {
		e.put(t, "edgerec.yaml", e.yaml("gw-new"))
		e.put(t, "uplink/ca.pem", "CA\n")
		e.put(t, "uplink/cert.pem", certPEM)
		e.put(t, "uplink/key.pem", keyPEM)
		e.put(t, "restore/backup.json", string(signed))
	}
	for name, key := range map[string]string{"no device-key": "", "another key": otherKey} {
		e := newFB(t)
		bundle(e)
		if key != "" {
			e.put(t, "restore/device-key", key+"\n")
		}
		out, err := e.run(t, bin)
		if err == nil {
			t.Fatalf("%s: firstboot succeeded:\n%s", name, out)
		}
		if _, err := os.Stat(filepath.Join(e.data, "edgerec.yaml")); err == nil {
			t.Errorf("%s: provisioned anyway", name)
		}
		note := read(t, filepath.Join(e.boot, "edgerec-bundle-ERROR.txt"))
		if !strings.Contains(note, "restore") {
			t.Errorf("%s: the note does not say what is wrong: %s", name, note)
		}
		if _, err := os.Stat(filepath.Join(e.bundle, "restore", "backup.json")); err != nil {
			t.Errorf("%s: bundle not kept for a fix: %v", name, err)
		}
		t.Logf("%s: %s", name, strings.TrimSpace(strings.Split(note, "\n")[0]))
	}

	e := newFB(t)
	bundle(e)
	e.put(t, "restore/device-key", keyLine+"\n")
	out, err := e.run(t, bin)
	if err != nil {
		t.Fatalf("firstboot with restore: %v\n%s", err, out)
	}
	c := read(t, filepath.Join(e.data, "edgerec.yaml"))
	for _, want := range []string{"id: gw-new", "site: Branch 12", "timezone: Europe/Berlin", "id: door", "name: window", "key: vault:uplink/key",
		"rtsp://192.168.1.20:554/main"} {
		if !strings.Contains(c, want) {
			t.Errorf("installed config lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(c, "REDACTED") || strings.Contains(c, "gw-old") {
		t.Errorf("installed config carries the old identity or a redaction:\n%s", c)
	}
	if b, err := os.ReadFile(filepath.Join(e.data, "restored-from-gw-old.json")); err != nil || string(b) != string(signed) {
		t.Errorf("backup not kept in the data dir: %v", err)
	}
	if _, err := os.Stat(e.bundle); !os.IsNotExist(err) {
		t.Errorf("bundle still on the boot partition: %v", err)
	}
	if ck, err := run(t, os.Environ(), bin, "check", "--data", e.data); err != nil || !strings.Contains(ck, "device.restore") && !strings.Contains(ck, "audit: ok") {
		t.Errorf("edgerec check: %v\n%s", err, ck)
	}
}
