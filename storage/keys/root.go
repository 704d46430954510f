package keys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// FileRoot is a RootProvider that keeps the root key in a 0600 file.
//
// File format: "EDGEREC-ROOTKEY1" (16 bytes) | key (32) | first 16 bytes of
// SHA-256(magic | key), which detects a damaged file before the key check
// value in the ring header is consulted.
type FileRoot struct {
	Path string
}

const rootMagic = "EDGEREC-ROOTKEY1"

// RootFileSize is the size of a root key file.
const RootFileSize = len(rootMagic) + Size + 16

// CreateFileRoot generates a root key and writes it atomically to path with
// mode 0600. It refuses to replace an existing file.
func CreateFileRoot(path string) ([]byte, error) {
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(path, encodeRoot(k), 0o600); err != nil {
		return nil, fmt.Errorf("keys: root key: %w", err)
	}
	return k, nil
}

func encodeRoot(k []byte) []byte {
	b := append([]byte(rootMagic), k...)
	sum := sha256.Sum256(b)
	return append(b, sum[:16]...)
}

// ParseRootFile parses the contents of a root key file.
func ParseRootFile(b []byte) ([]byte, error) {
	if len(b) != RootFileSize || !bytes.Equal(b[:len(rootMagic)], []byte(rootMagic)) {
		return nil, fmt.Errorf("%w: root key file has the wrong size or magic", ErrCorrupt)
	}
	body := b[:len(rootMagic)+Size]
	sum := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(sum[:16], b[len(body):]) != 1 {
		return nil, fmt.Errorf("%w: root key file checksum mismatch", ErrCorrupt)
	}
	return bytes.Clone(body[len(rootMagic):]), nil
}

// Load implements RootProvider.
func (f FileRoot) Load(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no root key at %s", ErrErased, f.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: root key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keys: root key %s has mode %v, want 0600", f.Path, st.Mode().Perm())
	}
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("keys: root key: %w", err)
	}
	return ParseRootFile(b)
}

// Destroy implements RootProvider: overwrite in place, sync, unlink.
func (f FileRoot) Destroy(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return DestroyFile(f.Path)
}
