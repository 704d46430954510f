package export

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
)

// FuzzOpenDoc feeds arbitrary bytes to the signed-document parser and the
// manifest and certificate decoders (R17, R25): they never panic, and
// whatever verifies re-verifies and is canonical. Seeds (testdata/fuzz)
// hold a valid manifest, a valid certificate and damaged variants.
func FuzzOpenDoc(f *testing.F) {
	f.Add([]byte(`{"kind":"x","payload":{},"public_key":"","signature":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := OpenDoc(b)
		if err != nil {
			return
		}
		if len(d.PublicKey) != ed25519.PublicKeySize {
			t.Fatalf("verified with a %d-byte key", len(d.PublicKey))
		}
		if _, err := OpenDoc(b, WithDeviceKey(d.PublicKey)); err != nil {
			t.Fatalf("verifies, but not with its own key pinned: %v", err)
		}
		_, _ = VerifyManifest(b)
		_, _ = VerifyWipeCertificate(b)
	})
}

// FuzzOpenBackup signs arbitrary payloads as backups (so the decoder past
// the signature is reached) and opens them (issue 18, replacing a
// gateway): OpenBackup and the audit-chain check never panic, and a
// backup that opens names a device and a config.
func FuzzOpenBackup(f *testing.F) {
	f.Add([]byte(`{"device":"gw-a","created":"2026-12-01T10:00:00Z","by":"alice","config":"device: {id: gw-a}\n","users":[{"id":"u-1","name":"alice","role":"admin","created":"2026-11-01T00:00:00Z"}],"audit":[{"Seq":1,"Time":1,"Actor":"system","Action":"user.bootstrap"}],"audit_head_seq":1}`))
	f.Add([]byte(`{"device":"gw-a","config":"x","audit":[{"Seq":2}],"audit_head_seq":1}`))
	f.Add([]byte(`{"device":"","config":""}`))
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if !json.Valid(payload) {
			return
		}
		signed, err := SignDoc(BackupKind, json.RawMessage(payload), key)
		if err != nil {
			return
		}
		doc, _, err := OpenBackup(signed, WithDeviceKey(key.Public().(ed25519.PublicKey)))
		if err != nil {
			return
		}
		if doc.Device == "" || doc.Config == "" {
			t.Fatalf("opened a backup without device or config: %+v", doc)
		}
		if seq, h, err := doc.LastRecord(); err == nil && (seq == 0 || seq > doc.Head || len(h) != 64) {
			t.Fatalf("LastRecord %d %q (head %d)", seq, h, doc.Head)
		}
	})
}
