package export

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgerec/edgerec/storage"
)

// TestGenerateFuzzSeeds rewrites testdata/fuzz/FuzzOpenDoc when
// EDGEREC_GEN_SEEDS=1 (the committed corpus comes from it).
func TestGenerateFuzzSeeds(t *testing.T) {
	if os.Getenv("EDGEREC_GEN_SEEDS") != "1" {
		t.Skip("set EDGEREC_GEN_SEEDS=1 to regenerate the fuzz corpus")
	}
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	m := Manifest{Device: "gw-1", Camera: ManifestCamera{ID: "c-1", Name: "Hall"}, From: t0, To: t0.Add(time.Minute),
		Start: t0, End: t0.Add(time.Minute), Grant: "g", Requester: "r", Approver: "a", Exporter: "e", Created: t0,
		File: FileInfo{Format: "fmp4", Size: 10, SHA256: fmt.Sprintf("%064x", 1)}}
	man, err := SignManifest(m, key)
	if err != nil {
		t.Fatal(err)
	}
	c := NewWipeCertificate("gw-1", storage.WipeReport{Steps: []storage.WipeStep{{Name: "root-key", Result: "ok"}}}, t0)
	cert, err := SignWipeCertificate(c, key)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), man...)
	flipped[len(flipped)/2] ^= 1
	seeds := [][]byte{man, cert, flipped, man[:len(man)/2], []byte(`{"kind":"edgerec.export-manifest/v1","payload":null,"public_key":"AAAA","signature":"AAAA"}`)}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpenDoc")
	os.MkdirAll(dir, 0o755)
	for i, s := range seeds {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
