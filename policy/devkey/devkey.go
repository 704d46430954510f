package devkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File names in the data directory.
const (
	PrivateFile = "device.ed25519"
	PublicFile  = "device.ed25519.pub"
)

// VaultName is the vault purpose the private key is sealed for.
const VaultName = "devkey/ed25519"

// publicTag starts the one-line public key file: "ed25519 <base64>\n".
const publicTag = "ed25519 "

// Sealer seals and opens small secrets under the device's vault
// (storage/keys.Vault, passed in by cmd/edgerec). A value sealed for one
// name does not open under another, nor under another device's vault.
type Sealer interface {
	Seal(name string, plain []byte) ([]byte, error)
	Open(name string, sealed []byte) ([]byte, error)
}

// Errors.
var (
	ErrExists  = errors.New("devkey: key exists")
	ErrMissing = errors.New("devkey: no device key")
	ErrBadKey  = errors.New("devkey: malformed key file")
	// ErrWrongVault: the private key file does not open under this
	// device's vault — copied from another device, or damaged.
	ErrWrongVault = errors.New("devkey: the device key does not open under this device's vault")
	ErrNoSealer   = errors.New("devkey: no vault to seal the device key with")
)

// Create generates the device key pair in dir and returns the public key.
// The private key (its 32-byte seed) is written sealed under s; the public
// key as one line of text.
func Create(dir string, s Sealer) (ed25519.PublicKey, error) {
	if s == nil {
		return nil, ErrNoSealer
	}
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
	defer clear(priv)
	sealed, err := s.Seal(VaultName, priv.Seed())
	if err != nil {
		return nil, fmt.Errorf("devkey: seal: %w", err)
	}
	if err := writeAtomic(dir, PrivateFile, sealed, 0o600, false); err != nil {
		return nil, err
	}
	if err := writeAtomic(dir, PublicFile, encodePublic(pub), 0o644, false); err != nil {
		os.Remove(filepath.Join(dir, PrivateFile))
		return nil, err
	}
	return pub, nil
}

func encodePublic(pub ed25519.PublicKey) []byte {
	return []byte(publicTag + base64.StdEncoding.EncodeToString(pub) + "\n")
}

// Load reads the private key from dir and opens it with s. A key sealed
// under another device's vault is ErrWrongVault. A key written before keys
// were sealed (an unsealed PKCS#8 PEM file) is sealed in place on this first
// load — the file is replaced, the old one overwritten — and the public key
// file rewritten without PEM.
func Load(dir string, s Sealer) (ed25519.PrivateKey, error) {
	if s == nil {
		return nil, ErrNoSealer
	}
	path := filepath.Join(dir, PrivateFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrMissing, path)
	}
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	if bytes.HasPrefix(raw, []byte("-----BEGIN")) {
		return migrate(dir, raw, s)
	}
	seed, err := s.Open(VaultName, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s was sealed on another device (copied?) or is damaged", ErrWrongVault, path)
	}
	defer clear(seed)
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: %s: sealed seed is %d bytes", ErrBadKey, PrivateFile, len(seed))
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// migrate seals a legacy PEM private key in place.
func migrate(dir string, raw []byte, s Sealer) (ed25519.PrivateKey, error) {
	blk, rest := pem.Decode(raw)
	if blk == nil || blk.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: %s", ErrBadKey, PrivateFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	clear(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKey, PrivateFile, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s: not ed25519", ErrBadKey, PrivateFile)
	}
	sealed, err := s.Seal(VaultName, priv.Seed())
	if err != nil {
		return nil, fmt.Errorf("devkey: seal the unsealed key: %w", err)
	}
	if err := writeAtomic(dir, PublicFile, encodePublic(priv.Public().(ed25519.PublicKey)), 0o644, true); err != nil {
		return nil, fmt.Errorf("devkey: %s is an unsealed PEM key and could not be sealed: %w", PrivateFile, err)
	}
	if err := writeAtomic(dir, PrivateFile, sealed, 0o600, true); err != nil {
		return nil, fmt.Errorf("devkey: %s is an unsealed PEM key and could not be sealed: %w", PrivateFile, err)
	}
	return priv, nil
}

// LoadPublic reads the public key from dir. It needs no vault (`edgerec
// check` and verifiers read it). A PKIX PEM file from before keys were
// sealed is still read.
func LoadPublic(dir string) (ed25519.PublicKey, error) {
	path := filepath.Join(dir, PublicFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrMissing, path)
	}
	if err != nil {
		return nil, fmt.Errorf("devkey: %w", err)
	}
	if line, ok := strings.CutPrefix(strings.TrimSpace(string(raw)), publicTag); ok {
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: %s", ErrBadKey, PublicFile)
		}
		return ed25519.PublicKey(b), nil
	}
	blk, rest := pem.Decode(raw)
	if blk == nil || blk.Type != "PUBLIC KEY" || len(rest) != 0 {
		return nil, fmt.Errorf("%w: %s", ErrBadKey, PublicFile)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
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

// writeAtomic writes dir/name through a temp file (fsync, then link or
// rename, fsync dir). Without replace an existing file is never replaced;
// with replace the old file's bytes are overwritten with zeros once the new
// one is in place (best effort: flash translation layers may keep copies).
func writeAtomic(dir, name string, data []byte, mode os.FileMode, replace bool) error {
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
	dst := filepath.Join(dir, name)
	if !replace {
		if err := os.Link(tmp, dst); err != nil { // never replaces an existing file
			return fmt.Errorf("devkey: %w", err)
		}
	} else {
		old, err := os.OpenFile(dst, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("devkey: %w", err)
		}
		defer old.Close()
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("devkey: %w", err)
		}
		if st, err := old.Stat(); err == nil { // the old inode lives while open
			_, _ = old.WriteAt(make([]byte, st.Size()), 0)
			_ = old.Sync()
		}
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
