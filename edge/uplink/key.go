package uplink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySize is the size of the camera-id hashing key.
const KeySize = 32

// VaultIDKey is the vault name of the sealed camera-id key.
const VaultIDKey = "uplink/idkey"

// Sealer seals secrets at rest under the device's root key; the daemon
// passes the storage vault (*keys.Vault). A sealed value opens only on the
// device that sealed it and only under the name it was sealed for.
type Sealer interface {
	Seal(name string, plain []byte) ([]byte, error)
	Open(name string, sealed []byte) ([]byte, error)
}

// KeyPath is where LoadOrCreateKey keeps the key under a data dir.
func KeyPath(dataDir string) string { return filepath.Join(dataDir, "keys", "uplink-id.key") }

// LoadOrCreateKey returns the 32-byte camera-id key kept sealed by s at path
// (issue 13, R32), creating it (mode 0600, directory 0700, written
// atomically) when it does not exist. A plain 32-byte key of older firmware
// is sealed in place (same key, so the opaque ids upstream stay the same).
// A value that does not open under s (another device's vault, damage) is an
// error and is left as it is.
func LoadOrCreateKey(path string, s Sealer) ([]byte, error) {
	if s == nil {
		return nil, errors.New("uplink: no sealer for the camera-id key")
	}
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) == KeySize {
			// Older firmware: a plain key. Seal it where it lies.
			sealed, err := s.Seal(VaultIDKey, b)
			if err != nil {
				return nil, fmt.Errorf("uplink: seal key: %w", err)
			}
			if err := writeKeyFile(path, sealed, false); err != nil {
				return nil, err
			}
			return b, nil
		}
		key, err := s.Open(VaultIDKey, b)
		if err != nil {
			return nil, fmt.Errorf("uplink: camera-id key %s: %w", path, err)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("uplink: key %s has %d bytes, want %d", path, len(key), KeySize)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("uplink: read key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("uplink: new key: %w", err)
	}
	sealed, err := s.Seal(VaultIDKey, key)
	if err != nil {
		return nil, fmt.Errorf("uplink: seal key: %w", err)
	}
	if err := writeKeyFile(path, sealed, true); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateKey(path, s)
		}
		return nil, err
	}
	return key, nil
}

// writeKeyFile writes data to path through a synced temporary file:
// linked when create (a key created concurrently by someone else wins:
// fs.ErrExist), renamed over path otherwise.
func writeKeyFile(path string, data []byte, create bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("uplink: key dir: %w", err)
	}
	write := fsutil.WriteFile
	if create {
		write = fsutil.CreateFile // a key created concurrently by someone else wins
	}
	if err := write(path, data, 0o600); err != nil {
		return fmt.Errorf("uplink: write key: %w", err)
	}
	return nil
}

// OpaqueID is the camera id sent upstream for the local id: the first 8
// bytes of HMAC-SHA256(key, local id), in hex (R19). The same key gives the
// same id across restarts; ids of different devices are unrelated.
func OpaqueID(key []byte, local string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("edgerec camera id v1\x00"))
	m.Write([]byte(local))
	return hex.EncodeToString(m.Sum(nil)[:8])
}
