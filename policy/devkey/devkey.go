package devkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names in the data directory.
const (
	PrivateFile = "device.ed25519"
	PublicFile  = "device.ed25519.pub"
)

// Errors.
var (
	ErrExists  = errors.New("devkey: key exists")
	ErrMissing = errors.New("devkey: no device key")
	ErrBadKey  = errors.New("devkey: malformed key file")
)

// Create generates the device key pair in dir and returns the public key.
func Create(dir string) (ed25519.PublicKey, error) {
	for _, n := range []string{PrivateFile, PublicFile} {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrExists, filepath.Join(dir, n))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("devkey: %w", err)
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devkey: generate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	if err := writeAtomic(dir, PrivateFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := writeAtomic(dir, PublicFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		os.Remove(filepath.Join(dir, PrivateFile))
		return nil, err
	}
	return pub, nil
}

// Load reads the private key from dir.
func Load(dir string) (ed25519.PrivateKey, error) {
	b, err := readPEM(dir, PrivateFile, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKey, PrivateFile, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not ed25519", ErrBadKey, PrivateFile)
	}
	return priv, nil
}

// LoadPublic reads the public key from dir.
func LoadPublic(dir string) (ed25519.PublicKey, error) {
	b, err := readPEM(dir, PublicFile, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKey, PublicFile, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not ed25519", ErrBadKey, PublicFile)
	}
	return pub, nil
}

// Fingerprint is the hex SHA-256 of the public key, for records kept off
// the device.
func Fingerprint(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:])
}

func readPEM(dir, name, typ string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrMissing, filepath.Join(dir, name))
	}
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	blk, rest := pem.Decode(raw)
	if blk == nil || blk.Type != typ || len(rest) != 0 {
		return nil, fmt.Errorf("%w: %s", ErrBadKey, name)
	}
	return blk.Bytes, nil
}

func writeAtomic(dir, name string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("devkey: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("devkey: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("devkey: write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("devkey: sync %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("devkey: %w", err)
	}
	if err := os.Link(tmp, filepath.Join(dir, name)); err != nil { // never replaces an existing file
		return fmt.Errorf("devkey: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("devkey: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("devkey: sync dir: %w", err)
	}
	return nil
}
