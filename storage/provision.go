package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/ring"
	"github.com/edgerec/edgerec/storage/seal"
)

// File names in the data directory.
const (
	RootKeyFile = "root.key"
	RingFile    = "ring"
	IndexFile   = "index.db"
	KeysDir     = "keys"
)

// MinRingSize is the smallest RingSize Provision accepts.
const MinRingSize = ring.MinSize

// ProvisionOptions configures a new store.
type ProvisionOptions struct {
	RingSize int64  // bytes; error if smaller than MinRingSize
	RingPath string // "" = <dir>/ring; may name a block device (raw partition)
	Cipher   string // "" or "auto", "aes-256-gcm", "xchacha20-poly1305"
	HoldSize int64  // bytes for the hold area; 0 = one eighth of RingSize
	// Provider is where the root key is created (0 = ProviderFile); Keys
	// gives its implementation (nil: file only). Recorded in the ring
	// header (issue 13).
	Provider Provider
	Keys     KeyProviders
}

// Provision creates a store in dir: root key (from o.Provider), vault key, ring (preallocated with
// fallocate, header with cipher and key check value) and index. It refuses a
// directory that already holds any part of a store (ErrExists). Files are
// written atomically; on failure what this call created is removed.
func Provision(ctx context.Context, dir string, o ProvisionOptions) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := seal.ParseCipher(o.Cipher)
	if err != nil {
		return fmt.Errorf("storage: provision: %w: %w", ErrInvalid, err)
	}
	h, err := ring.Plan(o.RingSize, o.HoldSize)
	if err != nil {
		return fmt.Errorf("storage: provision: %w: %w", ErrTooSmall, err)
	}
	for _, n := range append([]string{RingFile, IndexFile, KeysDir}, providerFiles...) {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return fmt.Errorf("%w: %s holds %s", ErrExists, dir, n)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("storage: provision: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("storage: provision: %w", err)
	}
	var created []string
	defer func() {
		if err != nil {
			for i := len(created) - 1; i >= 0; i-- {
				os.RemoveAll(created[i])
			}
		}
	}()
	if o.Provider == 0 {
		o.Provider = ProviderFile
	}
	kp, err := provider(dir, o.Keys, o.Provider)
	if err != nil {
		return fmt.Errorf("storage: provision: %w", err)
	}
	root, err := kp.Create(ctx)
	if err != nil {
		if errors.Is(err, keys.ErrExists) {
			return fmt.Errorf("%w: %w", ErrExists, err)
		}
		return fmt.Errorf("storage: provision: %w (%s): %w", ErrKeyUnavailable, o.Provider, err)
	}
	defer clear(root)
	defer func() {
		if err != nil {
			_ = kp.Destroy(context.WithoutCancel(ctx))
		}
	}()
	h.Provider = o.Provider
	if _, err := rand.Read(h.RingID[:]); err != nil {
		return fmt.Errorf("storage: provision: %w", err)
	}
	h.Cipher = c
	h.KCV = keys.KCV(root, h.RingID)
	h.Created = time.Now().Unix()

	ringPath := filepath.Join(dir, RingFile)
	target := ringPath
	if o.RingPath != "" && o.RingPath != ringPath {
		target = o.RingPath
	}
	if _, err := ring.Create(target, h); err != nil {
		if errors.Is(err, ring.ErrExists) {
			return fmt.Errorf("%w: %w", ErrExists, err)
		}
		if errors.Is(err, ring.ErrTooSmall) {
			return fmt.Errorf("storage: provision: %w: %w", ErrTooSmall, err)
		}
		return fmt.Errorf("storage: provision: %w", err)
	}
	if target != ringPath {
		if st, serr := os.Stat(target); serr == nil && st.Mode().IsRegular() {
			created = append(created, target)
		}
		abs, err := filepath.Abs(target)
		if err != nil {
			return fmt.Errorf("storage: provision: %w", err)
		}
		if err := os.Symlink(abs, ringPath); err != nil {
			return fmt.Errorf("storage: provision: %w", err)
		}
	}
	created = append(created, ringPath)

	if err := os.Mkdir(filepath.Join(dir, KeysDir), 0o700); err != nil {
		return fmt.Errorf("storage: provision: %w", err)
	}
	created = append(created, filepath.Join(dir, KeysDir))
	ks, err := keys.Open(filepath.Join(dir, KeysDir), root, false)
	if err != nil {
		return fmt.Errorf("storage: provision: %w", err)
	}
	if _, err := ks.Vault(); err != nil {
		return fmt.Errorf("storage: provision: %w", err)
	}
	ks.Close()

	// The index is written last, under a temporary name, and renamed into
	// place: its presence is what makes the directory a store.
	tmp := filepath.Join(dir, "."+IndexFile+".tmp")
	os.Remove(tmp)
	if err := index.Create(tmp, index.Head{RingID: h.RingID[:], NextSeg: 1, NextHold: 1}); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("storage: provision: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, WipeMarkerFile)); err != nil && !errors.Is(err, fs.ErrNotExist) { // wipe.go
		os.Remove(tmp)
		return fmt.Errorf("storage: provision: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, IndexFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("storage: provision: %w", err)
	}
	created = append(created, filepath.Join(dir, IndexFile))
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("storage: provision: %w", err)
	}
	return nil
}
