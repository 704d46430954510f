package sealtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// magic marks a value sealed by a Sealer.
const magic = "SEALTEST1\x00"

// ErrOpen: the value does not open under this sealer for this name.
var ErrOpen = errors.New("sealtest: does not open")

// Sealer is an AEAD sealer with its own random key: a stand-in for the
// device vault (storage/keys.Vault) in tests of packages that may not
// import storage. Two Sealers are two devices.
type Sealer struct {
	key []byte
}

// New returns a sealer with a fresh random key.
func New() *Sealer {
	k := make([]byte, chacha20poly1305.KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return &Sealer{key: k}
}

// Seal seals plain for name (the name is the associated data).
func (s *Sealer) Seal(name string, plain []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(s.key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(magic)+a.NonceSize(), len(magic)+a.NonceSize()+len(plain)+a.Overhead())
	copy(out, magic)
	if _, err := rand.Read(out[len(magic):]); err != nil {
		return nil, err
	}
	return a.Seal(out, out[len(magic):], plain, []byte(name)), nil
}

// Open opens a value sealed for name by this sealer.
func (s *Sealer) Open(name string, sealed []byte) ([]byte, error) {
	a, err := chacha20poly1305.NewX(s.key)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(sealed, []byte(magic)) || len(sealed) < len(magic)+a.NonceSize()+a.Overhead() {
		return nil, fmt.Errorf("%w: %s: not a sealed value", ErrOpen, name)
	}
	b := sealed[len(magic):]
	p, err := a.Open(nil, b[:a.NonceSize()], b[a.NonceSize():], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrOpen, name)
	}
	return p, nil
}
