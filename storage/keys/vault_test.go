package keys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Issue 13 (R32): sealed secrets open only under the same root and for the
// same purpose; the vault key survives a reopen and is a file wrapped by the
// KEK, so another root cannot open it.
func TestVault(t *testing.T) {
	dir := t.TempDir()
	root, _ := NewKey()
	ks, err := Open(dir, root, false)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ks.Vault()
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("rtsp-password-hunter2")
	sealed, err := v.Seal("camera/door", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) || !IsSealed(sealed) {
		t.Fatal("sealed value holds the secret or lacks the magic")
	}
	if _, err := v.Open("camera/yard", sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("opened under another name: %v", err)
	}
	if _, err := v.Open("camera/door", secret); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("plain value: %v", err)
	}
	if _, err := v.Open("camera/door", sealed[:20]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, err := v.Open("camera/door", bad); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("flipped bit: %v", err)
	}
	ks.Close()

	ks2, _ := Open(dir, root, true)
	v2, err := ks2.Vault()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v2.Open("camera/door", sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("reopen: %q %v", got, err)
	}
	other, _ := NewKey()
	ks3, _ := Open(dir, other, true)
	if _, err := ks3.Vault(); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("vault under another root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, VaultFile)); err != nil {
		t.Fatal(err)
	}
	// A read-only store without a vault key does not create one.
	empty := t.TempDir()
	ks4, _ := Open(empty, root, true)
	if _, err := ks4.Vault(); !errors.Is(err, ErrErased) {
		t.Fatalf("read-only vault without key: %v", err)
	}
}
