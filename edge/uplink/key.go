package uplink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySize is the size of the camera-id hashing key.
const KeySize = 32

// KeyPath is where LoadOrCreateKey keeps the key under a data dir.
func KeyPath(dataDir string) string { return filepath.Join(dataDir, "keys", "uplink-id.key") }

// LoadOrCreateKey reads the 32-byte camera-id key at path, creating it (mode
// 0600, directory 0700, written atomically) when it does not exist.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != KeySize {
			return nil, fmt.Errorf("uplink: key %s has %d bytes, want %d", path, len(b), KeySize)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("uplink: read key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("uplink: new key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("uplink: key dir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".uplink-id-*")
	if err != nil {
		return nil, fmt.Errorf("uplink: write key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("uplink: write key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("uplink: write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("uplink: write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("uplink: write key: %w", err)
	}
	// Link, not rename: a key created concurrently by someone else wins.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateKey(path)
		}
		return nil, fmt.Errorf("uplink: write key: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return key, nil
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
