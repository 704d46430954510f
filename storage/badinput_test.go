package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/ring"
)

func TestProvisionRefusesExistingAndTooSmall(t *testing.T) {
	ctx := context.Background()
	dir := provision(t, ProvisionOptions{})
	if err := Provision(ctx, dir, ProvisionOptions{RingSize: 8 << 20}); !errors.Is(err, ErrExists) {
		t.Fatalf("second provision: %v", err)
	}
	// A partial store (only the root key) is refused too, and not opened.
	d2 := t.TempDir()
	os.WriteFile(filepath.Join(d2, RootKeyFile), []byte("x"), 0o600)
	if err := Provision(ctx, d2, ProvisionOptions{RingSize: 8 << 20}); !errors.Is(err, ErrExists) {
		t.Fatalf("partial store: %v", err)
	}
	if _, err := Open(ctx, t.TempDir(), Options{}); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("open empty dir: %v", err)
	}
	// Ring smaller than the minimum: the message names the minimum; nothing is left behind.
	d3 := filepath.Join(t.TempDir(), "small")
	err := Provision(ctx, d3, ProvisionOptions{RingSize: 1 << 20})
	if !errors.Is(err, ErrTooSmall) || !strings.Contains(err.Error(), "minimum") {
		t.Fatalf("small ring: %v", err)
	}
	if ents, _ := os.ReadDir(d3); len(ents) != 0 {
		t.Fatalf("small ring left files: %v", ents)
	}
	if err := Provision(ctx, d3, ProvisionOptions{RingSize: 8 << 20, Cipher: "rot13"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad cipher: %v", err)
	}
	// Preallocated: the ring file has its full size in allocated blocks.
	st, _ := os.Stat(filepath.Join(dir, RingFile))
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Blocks*512 < st.Size() {
		t.Logf("ring not fully allocated (%d of %d bytes); file system without fallocate?", sys.Blocks*512, st.Size())
	}
	// RingPath elsewhere (stands in for a raw partition): <dir>/ring links to it.
	d4 := filepath.Join(t.TempDir(), "d4")
	rp := filepath.Join(t.TempDir(), "ringfile")
	if err := Provision(ctx, d4, ProvisionOptions{RingSize: 8 << 20, RingPath: rp}); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, d4, Options{})
	var seq uint64
	recordSegment(t, s, "c", 1, &seq, t0, 20, 10, 1000, 66*time.Millisecond)
	s.Close()
	if fi, err := os.Lstat(filepath.Join(d4, RingFile)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("ring link: %v %v", fi, err)
	}
}

// Bad input: a corrupt ring header, a wrong or damaged root key, a corrupt
// index file: Open refuses with a clear error and changes nothing.
func TestBadInputRefusesToOpen(t *testing.T) {
	ctx := context.Background()
	mk := func() string {
		dir := provision(t, ProvisionOptions{})
		s := openStore(t, dir, Options{})
		var seq uint64
		recordSegment(t, s, "c", 1, &seq, t0, 30, 10, 2000, 66*time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("ring header", func(t *testing.T) {
		dir := mk()
		flipByte(t, filepath.Join(dir, RingFile), 50)
		before, _ := os.ReadFile(filepath.Join(dir, IndexFile))
		_, err := Open(ctx, dir, Options{})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "ring header") {
			t.Fatalf("open: %v", err)
		}
		if _, err := CheckDir(ctx, dir, CheckOptions{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("check: %v", err)
		}
		after, _ := os.ReadFile(filepath.Join(dir, IndexFile))
		if string(before) != string(after) {
			t.Fatal("index changed by a refused open")
		}
	})
	t.Run("wrong root key", func(t *testing.T) {
		dir := mk()
		other := provision(t, ProvisionOptions{})
		b, _ := os.ReadFile(filepath.Join(other, RootKeyFile))
		os.Remove(filepath.Join(dir, RootKeyFile))
		os.WriteFile(filepath.Join(dir, RootKeyFile), b, 0o600)
		if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("open: %v", err)
		}
	})
	t.Run("damaged root key", func(t *testing.T) {
		dir := mk()
		flipByte(t, filepath.Join(dir, RootKeyFile), 20)
		if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open: %v", err)
		}
	})
	t.Run("root key mode", func(t *testing.T) {
		dir := mk()
		os.Chmod(filepath.Join(dir, RootKeyFile), 0o644)
		if _, err := Open(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "0600") {
			t.Fatalf("open: %v", err)
		}
	})
	t.Run("missing epoch key", func(t *testing.T) {
		dir := mk()
		ents, _ := os.ReadDir(filepath.Join(dir, KeysDir, "epochs"))
		for _, e := range ents {
			os.Remove(filepath.Join(dir, KeysDir, "epochs", e.Name()))
		}
		rep, err := CheckDir(ctx, dir, CheckOptions{})
		if err != nil || rep.OK() || !strings.Contains(rep.String(), "epoch key of camera c") {
			t.Fatalf("check: %v\n%s", err, rep)
		}
	})
	t.Run("index", func(t *testing.T) {
		for _, off := range []int64{0, 16, 4096 + 16, 2*4096 + 100} {
			dir := mk()
			flipByte(t, filepath.Join(dir, IndexFile), off)
			flipByte(t, filepath.Join(dir, IndexFile), off+1)
			s, err := Open(ctx, dir, Options{})
			if err == nil {
				// bbolt keeps two meta pages; damage to one is survivable.
				// Then the check must still pass or report, never panic.
				rep, cerr := s.Check(ctx, CheckOptions{})
				s.Close()
				t.Logf("offset %d: opened; check ok=%v err=%v", off, rep.OK(), cerr)
				continue
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("offset %d: %v (want ErrCorrupt)", off, err)
			}
		}
		// Garbage instead of a database.
		dir := mk()
		os.WriteFile(filepath.Join(dir, IndexFile), make([]byte, 65536), 0o600)
		if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("zeroed index: %v", err)
		}
	})
	t.Run("index of another ring", func(t *testing.T) {
		dir, other := mk(), mk()
		b, _ := os.ReadFile(filepath.Join(other, IndexFile))
		os.WriteFile(filepath.Join(dir, IndexFile), b, 0o600)
		if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "another ring") {
			t.Fatalf("open: %v", err)
		}
	})
	t.Run("truncated ring", func(t *testing.T) {
		dir := mk()
		os.Truncate(filepath.Join(dir, RingFile), 3<<20)
		if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open: %v", err)
		}
	})
}

// faultFile injects I/O errors into the ring file.
type faultFile struct {
	ring.File
	failWrites, failReads, failSync atomic.Bool
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if f.failWrites.Load() {
		return 0, syscall.EIO
	}
	return f.File.WriteAt(b, off)
}

func (f *faultFile) ReadAt(b []byte, off int64) (int, error) {
	if f.failReads.Load() && off >= ring.BlockSize {
		return 0, syscall.EIO
	}
	return f.File.ReadAt(b, off)
}

func (f *faultFile) Sync() error {
	if f.failSync.Load() {
		return syscall.EIO
	}
	return f.File.Sync()
}

// Disk I/O errors: a failed write or sync stops the store (ErrIO), the
// index never references the unsynced bytes, and after a restart the store
// recovers to a consistent state. A read error during recovery refuses to
// start rather than overwrite what it cannot read.
func TestIOErrorsStopRecording(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"write", "sync"} {
		t.Run(mode, func(t *testing.T) {
			dir := provision(t, ProvisionOptions{})
			var ff *faultFile
			s := openStore(t, dir, Options{RingFile: func(f ring.File) ring.File { ff = &faultFile{File: f}; return ff }})
			var seq uint64
			recordSegment(t, s, "c", 1, &seq, t0, 30, 10, 2000, 66*time.Millisecond)
			w, err := s.BeginSegment(ctx, SegmentMeta{Camera: "c", Start: t0.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if mode == "write" {
				ff.failWrites.Store(true)
			} else {
				ff.failSync.Store(true)
			}
			var werr error
			for i := 0; i < 200 && werr == nil; i++ {
				werr = w.WriteFrame(Frame{Time: t0.Add(time.Minute + time.Duration(i)*time.Millisecond), Key: i%10 == 0, Data: mkFrame(1, seq, i%10 == 0, 3000)})
				seq++
				time.Sleep(time.Millisecond)
			}
			if werr == nil {
				werr = w.Close()
			}
			if !errors.Is(werr, ErrIO) || !errors.Is(werr, syscall.EIO) {
				t.Fatalf("write after %s error: %v", mode, werr)
			}
			if _, err := s.BeginSegment(ctx, SegmentMeta{Camera: "d", Start: t0}); !errors.Is(err, ErrIO) {
				t.Fatalf("begin after failure: %v", err)
			}
			if st := s.Stats(); !errors.Is(st.Failed, ErrIO) {
				t.Fatalf("stats: %+v", st)
			}
			s.Close()
			// Restart on a healthy disk: consistent, the first segment intact.
			s = openStore(t, dir, Options{})
			defer s.Close()
			mustCheck(t, s, false)
			got, err := readAll(t, s, "c", t0, t0.Add(time.Second*2))
			if err != nil || len(got) != 30 {
				t.Fatalf("first segment after restart: %d frames, %v", len(got), err)
			}
		})
	}
	t.Run("read during recovery", func(t *testing.T) {
		dir := provision(t, ProvisionOptions{})
		s := openStore(t, dir, Options{})
		var seq uint64
		recordSegment(t, s, "c", 1, &seq, t0, 30, 10, 2000, 66*time.Millisecond)
		s.Close()
		_, err := Open(ctx, dir, Options{RingFile: func(f ring.File) ring.File {
			ff := &faultFile{File: f}
			ff.failReads.Store(true)
			return ff
		}})
		if !errors.Is(err, ErrIO) {
			t.Fatalf("open with failing reads: %v", err)
		}
	})
}

// Wrong key material never opens anything: unwrap with the wrong KEK fails.
func TestKeysUnwrapWrongKey(t *testing.T) {
	a, _ := keys.NewKey()
	b, _ := keys.NewKey()
	k, _ := keys.NewKey()
	w, _ := keys.Wrap(a, k, keys.SegmentAAD(1))
	if _, err := keys.Unwrap(b, w, keys.SegmentAAD(1)); !errors.Is(err, keys.ErrWrongKey) {
		t.Fatal(err)
	}
	if _, err := keys.Unwrap(a, w, keys.SegmentAAD(2)); !errors.Is(err, keys.ErrWrongKey) {
		t.Fatal("a wrapped key moved to another segment unwrapped")
	}
}
