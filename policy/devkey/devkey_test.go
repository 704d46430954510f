package devkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerec/edgerec/policy/sealtest"
)

func TestCreateLoad(t *testing.T) {
	dir := t.TempDir()
	s := sealtest.New()
	pub, err := Create(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := Load(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := LoadPublic(dir)
	if err != nil || !p2.Equal(pub) || !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatal("key mismatch")
	}
	st, _ := os.Stat(filepath.Join(dir, PrivateFile))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", st.Mode().Perm())
	}
	if _, err := Create(dir, s); !errors.Is(err, ErrExists) {
		t.Errorf("second Create: %v", err)
	}
	os.WriteFile(filepath.Join(dir, PublicFile), []byte("junk"), 0o644)
	if _, err := LoadPublic(dir); !errors.Is(err, ErrBadKey) {
		t.Errorf("junk public key: %v", err)
	}
	if _, err := Load(t.TempDir(), s); !errors.Is(err, ErrMissing) {
		t.Errorf("missing: %v", err)
	}
	if _, err := Load(dir, nil); !errors.Is(err, ErrNoSealer) {
		t.Errorf("no sealer: %v", err)
	}
}

// TestKeyFilesHoldNoPlainKey: R32, issue 13 — neither file holds a PEM
// block, the private file holds neither the seed nor the private key, and
// the public file is one line of text readable without the vault.
func TestKeyFilesHoldNoPlainKey(t *testing.T) {
	dir := t.TempDir()
	s := sealtest.New()
	pub, err := Create(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := Load(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{PrivateFile, PublicFile} {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		if bytes.Contains(b, []byte("-----BEGIN")) {
			t.Errorf("%s holds a PEM block", n)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, PrivateFile))
	if bytes.Contains(b, priv.Seed()) || bytes.Contains(b, priv) {
		t.Error("private key file holds the key in the clear")
	}
	pb, _ := os.ReadFile(filepath.Join(dir, PublicFile))
	if lines := strings.Split(strings.TrimSuffix(string(pb), "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "ed25519 ") {
		t.Errorf("public key file %q: want one line \"ed25519 <base64>\"", pb)
	}
	if p, err := LoadPublic(dir); err != nil || !p.Equal(pub) {
		t.Errorf("LoadPublic: %v", err)
	}
}

// TestKeyFromAnotherDevice: R32 — a private key file copied from another
// device (sealed under another vault) fails with one clear error.
func TestKeyFromAnotherDevice(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if _, err := Create(a, sealtest.New()); err != nil {
		t.Fatal(err)
	}
	other := sealtest.New()
	if _, err := Create(b, other); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(a, PrivateFile))
	if err := os.WriteFile(filepath.Join(b, PrivateFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(b, other)
	if !errors.Is(err, ErrWrongVault) || !strings.Contains(err.Error(), "another device") {
		t.Fatalf("copied key: %v", err)
	}
	if strings.Count(err.Error(), "devkey:") != 1 {
		t.Errorf("one clear error, got %q", err)
	}
	// Junk and a truncated file fail the same way, without panicking.
	for _, junk := range [][]byte{nil, []byte("x"), raw[:len(raw)/2]} {
		os.WriteFile(filepath.Join(b, PrivateFile), junk, 0o600)
		if _, err := Load(b, other); !errors.Is(err, ErrWrongVault) {
			t.Errorf("junk %q: %v", junk, err)
		}
	}
}

// TestLegacyPEMKeyIsSealedOnLoad: a device provisioned before keys were
// sealed (PKCS#8 PEM private key, PKIX PEM public key) keeps its signing
// key: the first Load with the vault seals it in place and rewrites the
// public key file without PEM; the public key reads before and after.
func TestLegacyPEMKeyIsSealedOnLoad(t *testing.T) {
	dir := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)
	os.WriteFile(filepath.Join(dir, PrivateFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, PublicFile), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
	if p, err := LoadPublic(dir); err != nil || !p.Equal(pub) {
		t.Fatalf("legacy public key: %v", err)
	}
	s := sealtest.New()
	got, err := Load(dir, s)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("legacy load: %v", err)
	}
	for _, n := range []string{PrivateFile, PublicFile} {
		b, _ := os.ReadFile(filepath.Join(dir, n))
		if bytes.Contains(b, []byte("-----BEGIN")) || bytes.Contains(b, priv.Seed()) {
			t.Errorf("%s still holds the key in the clear", n)
		}
	}
	if got, err := Load(dir, s); err != nil || !got.Equal(priv) {
		t.Fatalf("load after sealing: %v", err)
	}
	if p, err := LoadPublic(dir); err != nil || !p.Equal(pub) {
		t.Fatalf("public key after sealing: %v", err)
	}
	if _, err := Load(dir, sealtest.New()); !errors.Is(err, ErrWrongVault) {
		t.Fatalf("sealed legacy key under another vault: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("leftover files: %v", ents)
	}
}
