package keys

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/crypto/chacha20poly1305"
)

// VaultFile is the name, in the keys directory, of the vault key file.
const VaultFile = "vault.key"

// vaultAAD binds the vault key file to its use.
var vaultAAD = []byte("edgerec/v1/vault-key")

// vaultMagic starts every sealed secret. "1" is the format version.
const vaultMagic = "EDGEREC-SEALED1\x00"

// ErrNotSealed means a value is not a sealed secret (no magic).
var ErrNotSealed = errors.New("not a sealed secret")

// Vault seals small secrets at rest (issue 13, R32): the device signing
// key, the TLS and uplink keys, camera credentials, password hashes and
// session material. Its key is random, kept in keys/vault.key wrapped by the
// KEK (so rekey rewraps one file, never the sealed values), and destroyed
// with the root key by a wipe: a copy of a sealed value without the root key
// is noise.
//
// A sealed value is vaultMagic | XChaCha20-Poly1305(nonce|ciphertext) with
// the associated data "edgerec/v1/vault/" + name, so a value sealed for one
// purpose (say "user/alice/hash") does not open as another.
type Vault struct {
	k []byte
}

// Vault returns the store's vault, creating its key on first use (a store
// provisioned before the vault existed gets one on its first writable open).
func (s *Store) Vault() (*Vault, error) {
	k, err := s.key("v", filepath.Join(s.dir, VaultFile), vaultAAD, !s.ro)
	if err != nil {
		return nil, fmt.Errorf("keys: vault: %w", err)
	}
	return &Vault{k: k}, nil
}

func vaultNameAAD(name string) []byte { return []byte("edgerec/v1/vault/" + name) }

// Seal seals plain for the purpose name.
func (v *Vault) Seal(name string, plain []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(v.k)
	if err != nil {
		return nil, fmt.Errorf("keys: seal: %w", err)
	}
	out := make([]byte, len(vaultMagic)+a.NonceSize(), len(vaultMagic)+a.NonceSize()+len(plain)+a.Overhead())
	copy(out, vaultMagic)
	n := out[len(vaultMagic):]
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("keys: random: %w", err)
	}
	return a.Seal(out, n, plain, vaultNameAAD(name)), nil
}

// Open opens a value sealed for name. A value that is not sealed is
// ErrNotSealed; a value sealed under another root or for another name is
// ErrWrongKey.
func (v *Vault) Open(name string, sealed []byte) ([]byte, error) {
	if !IsSealed(sealed) {
		return nil, fmt.Errorf("keys: %s: %w", name, ErrNotSealed)
	}
	a, err := chacha20poly1305.NewX(v.k)
	if err != nil {
		return nil, fmt.Errorf("keys: open: %w", err)
	}
	b := sealed[len(vaultMagic):]
	if len(b) < a.NonceSize()+a.Overhead() {
		return nil, fmt.Errorf("keys: %s: %w: sealed value is %d bytes", name, ErrCorrupt, len(sealed))
	}
	p, err := a.Open(nil, b[:a.NonceSize()], b[a.NonceSize():], vaultNameAAD(name))
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w: the sealed value does not open under this device's key (another device, another purpose, or damaged)", name, ErrWrongKey)
	}
	return p, nil
}

// IsSealed reports whether b looks like a sealed value.
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, []byte(vaultMagic)) }
