package rpiotp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"io/fs"
	"os"
)

// More errors; match with errors.Is.
var (
	// ErrNoWrappedKey: there is no wrapped root key file (never created,
	// or destroyed by a wipe). It also matches fs.ErrNotExist. The storage
	// integration maps it to keys.ErrErased.
	ErrNoWrappedKey = errors.New("rpiotp: no wrapped root key")
	// ErrExists: Create found a wrapped root key file already there; it is
	// never replaced. It also matches fs.ErrExist.
	ErrExists = errors.New("rpiotp: wrapped root key file exists")
)

var errNoConfig = errors.New("rpiotp: Provider needs an OTP and a Path")

// Provider keeps the device root key on disk wrapped by the board's OTP
// key. Its Load and Destroy have the shape of storage/keys.RootProvider
// (hal does not import storage; the storage integration adopts it).
type Provider struct {
	OTP  *OTP
	Path string // the wrapped root key file, 0600 in a 0700 directory
}

// Create makes a fresh random root key, wraps it under this board's OTP key
// and writes the file atomically (0600). It refuses to replace an existing
// file (ErrExists) and needs a programmed OTP (ErrNotProgrammed otherwise:
// provisioning programs it first with OTP.Provision). It returns the root
// key.
func (p Provider) Create(ctx context.Context) ([]byte, error) {
	if p.OTP == nil || p.Path == "" {
		return nil, errNoConfig
	}
	if _, err := os.Lstat(p.Path); err == nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrExists, p.Path, fs.ErrExist)
	}
	serial, err := p.OTP.Serial(ctx)
	if err != nil {
		return nil, err
	}
	otpKey, err := p.OTP.ReadKey(ctx)
	if err != nil {
		return nil, err
	}
	defer clear(otpKey)
	root := make([]byte, RootKeySize)
	if _, err := rand.Read(root); err != nil {
		return nil, fmt.Errorf("rpiotp: random: %w", err)
	}
	b, err := Wrap(otpKey, root, serial)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(p.Path, b, 0o600); err != nil {
		clear(root)
		return nil, err
	}
	return root, nil
}

// Load implements keys.RootProvider: read the wrapped file, read this
// board's serial and OTP key, unwrap. It never falls back: a missing
// mailbox, an unprogrammed OTP, another board's file or a damaged file is
// an error, and nothing is written.
func (p Provider) Load(ctx context.Context) ([]byte, error) {
	if p.OTP == nil || p.Path == "" {
		return nil, errNoConfig
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(p.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: %w", ErrNoWrappedKey, p.Path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("rpiotp: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("rpiotp: wrapped root key %s has mode %v, want 0600", p.Path, st.Mode().Perm())
	}
	b, err := os.ReadFile(p.Path)
	if err != nil {
		return nil, fmt.Errorf("rpiotp: %w", err)
	}
	// Judge the file before asking the firmware anything.
	if _, err := parseWrapped(b); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	serial, err := p.OTP.Serial(ctx)
	if err != nil {
		return nil, err
	}
	otpKey, err := p.OTP.ReadKey(ctx)
	if err != nil {
		return nil, err
	}
	defer clear(otpKey)
	root, err := Unwrap(otpKey, b, serial)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	return root, nil
}

// Destroy implements keys.RootProvider: it overwrites the wrapped file in
// place with random bytes, syncs, unlinks it and syncs the directory. A
// missing file is not an error. The OTP key itself cannot be erased: it
// stays on the board for its whole life (see the package doc for what the
// wipe certificate must say).
func (p Provider) Destroy(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.Path == "" {
		// Never report a wipe of nothing as done.
		return errNoConfig
	}
	if err := fsutil.Destroy(p.Path); err != nil {
		return fmt.Errorf("rpiotp: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("rpiotp: sync %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic writes through hal/fsutil.CreateFile (temporary file,
// fsync, link, fsync dir) and never replaces an existing file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := fsutil.CreateFile(path, data, mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s: %w", ErrExists, path, fs.ErrExist)
		}
		return fmt.Errorf("rpiotp: %w", err)
	}
	return nil
}
