package devkey

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCreateLoad(t *testing.T) {
	dir := t.TempDir()
	pub, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := Load(dir)
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
	if _, err := Create(dir); !errors.Is(err, ErrExists) {
		t.Errorf("second Create: %v", err)
	}
	os.WriteFile(filepath.Join(dir, PublicFile), []byte("junk"), 0o644)
	if _, err := LoadPublic(dir); !errors.Is(err, ErrBadKey) {
		t.Errorf("junk public key: %v", err)
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrMissing) {
		t.Errorf("missing: %v", err)
	}
}
