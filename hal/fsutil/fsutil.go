package fsutil

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically, replacing an existing file:
// temporary file, chmod, write, fsync, rename, fsync the directory.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, os.Rename)
}

// CreateFile writes data to path atomically and never replaces an existing
// file: the temporary file is hard-linked to path, so an existing (or
// concurrently created) path fails with an error wrapping fs.ErrExist.
func CreateFile(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, os.Link)
}

func write(path string, data []byte, mode os.FileMode, place func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a link, or a failure; a no-op after a rename
	werr := f.Chmod(mode)
	if werr == nil {
		_, werr = f.Write(data)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	if err := place(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: sync dir: %w", path, err)
	}
	return nil
}

// SyncDir fsyncs a directory, making a rename, link or unlink in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Destroy overwrites path in place with random bytes, syncs, removes it and
// syncs its directory: a key file's destruction (storage/keys' threat model
// says what this does and does not guarantee on flash). A missing file is
// not an error.
func Destroy(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		junk := make([]byte, st.Size())
		_, _ = rand.Read(junk)
		if _, err = f.WriteAt(junk, 0); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("destroy %s: %w", filepath.Base(path), err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	return SyncDir(filepath.Dir(path))
}
