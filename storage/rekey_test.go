package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// stagedFile is the file provider at the staged path (what cmd/edgerec
// builds for a rekey).
func stagedFiles(dir string) KeyProviders {
	return func(p Provider) (KeyProvider, error) {
		if p != ProviderFile {
			return nil, errors.New("only file in this test")
		}
		return fileProvider{path: filepath.Join(dir, RootKeyFile+StagedSuffix)}, nil
	}
}

type rekeyFixture struct {
	dir     string
	written []written
	hold    uint64
	sealed  []byte
	oldRoot []byte
	start   time.Time
}

func newRekeyFixture(t *testing.T) *rekeyFixture {
	t.Helper()
	f := &rekeyFixture{dir: provision(t, ProvisionOptions{RingSize: 16 << 20})}
	s := openStore(t, f.dir, Options{})
	var seq uint64
	f.start = time.Date(2026, 11, 29, 23, 59, 0, 0, time.UTC)
	// Two cameras, across a UTC day boundary: several epochs.
	for i, cam := range []string{"door", "yard"} {
		for j := 0; j < 3; j++ {
			f.written = append(f.written, recordSegment(t, s, cam, byte(i+1), &seq, f.start.Add(time.Duration(j)*40*time.Second), 30, 10, 2000, time.Second))
		}
	}
	id, err := s.Hold(context.Background(), "door", f.start, f.start.Add(40*time.Second), "grant-1")
	if err != nil {
		t.Fatal(err)
	}
	f.hold = id
	if f.sealed, err = s.Vault().Seal("camera/door/password", []byte("S3cret-Pa55")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f.oldRoot, _ = os.ReadFile(filepath.Join(f.dir, RootKeyFile))
	return f
}

// verify opens the store and reads every written frame and the sealed
// secret back.
func (f *rekeyFixture) verify(t *testing.T) {
	t.Helper()
	s := openStore(t, f.dir, Options{})
	defer s.Close()
	for _, w := range f.written {
		got, err := readAll(t, s, w.cam, w.frames[0].Time, w.frames[len(w.frames)-1].Time.Add(time.Millisecond))
		if err != nil {
			t.Fatalf("read %s after rekey: %v", w.cam, err)
		}
		if err := sameFrames(got, w.frames); err != nil {
			t.Fatalf("%s after rekey: %v", w.cam, err)
		}
	}
	if p, err := s.Vault().Open("camera/door/password", f.sealed); err != nil || string(p) != "S3cret-Pa55" {
		t.Fatalf("sealed secret after rekey: %q %v", p, err)
	}
	hs, err := s.Holds(context.Background())
	if err != nil || len(hs) != 1 {
		t.Fatalf("holds after rekey: %v %v", hs, err)
	}
	if rep := mustCheck(t, s, false); !rep.OK() {
		t.Fatalf("check after rekey: %s", rep)
	}
}

// Issue 13: `rekey` replaces the root key without rewriting footage: every
// segment still reads, the vault still opens, the hold is kept; the old
// root key no longer opens the store; the ring bytes are unchanged.
func TestRekeyRewrapsWithoutRewritingFootage(t *testing.T) {
	f := newRekeyFixture(t)
	ringBefore, _ := os.ReadFile(filepath.Join(f.dir, RingFile))
	rep, err := Rekey(context.Background(), f.dir, RekeyOptions{Staged: stagedFiles(f.dir)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Epochs < 4 || rep.Holds != 1 || rep.From != ProviderFile || rep.To != ProviderFile {
		t.Fatalf("report %+v", rep)
	}
	ringAfter, _ := os.ReadFile(filepath.Join(f.dir, RingFile))
	if !bytes.Equal(ringBefore[4096:], ringAfter[4096:]) {
		t.Fatal("rekey rewrote footage in the ring")
	}
	if bytes.Equal(ringBefore[:4096], ringAfter[:4096]) {
		t.Fatal("ring header (key check value) unchanged")
	}
	newRoot, _ := os.ReadFile(filepath.Join(f.dir, RootKeyFile))
	if bytes.Equal(newRoot, f.oldRoot) {
		t.Fatal("root key unchanged")
	}
	for _, n := range []string{RekeyMarkerFile, RootKeyFile + StagedSuffix, keysNewDir, keysOldDir} {
		if _, err := os.Lstat(filepath.Join(f.dir, n)); err == nil {
			t.Fatalf("%s left behind", n)
		}
	}
	f.verify(t)
	// The old root key, put back, opens nothing.
	os.Remove(filepath.Join(f.dir, RootKeyFile))
	os.WriteFile(filepath.Join(f.dir, RootKeyFile), f.oldRoot, 0o600)
	if _, err := Open(context.Background(), f.dir, Options{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old root after rekey: %v", err)
	}
}

// The crash procedure: a rekey interrupted after any step leaves a store
// that Open refuses (ErrRekeyInProgress, one clear error) and that a second
// rekey finishes (or rolls back and redoes), after which everything reads.
func TestRekeyCrashProcedure(t *testing.T) {
	for _, at := range []string{"prepared", "committed", "swapped"} {
		t.Run(at, func(t *testing.T) {
			f := newRekeyFixture(t)
			_, err := Rekey(context.Background(), f.dir, RekeyOptions{Staged: stagedFiles(f.dir), crashAt: at})
			if !errors.Is(err, errRekeyCrash) {
				t.Fatalf("crash at %s: %v", at, err)
			}
			if _, err := Open(context.Background(), f.dir, Options{}); !errors.Is(err, ErrRekeyInProgress) {
				t.Fatalf("open during rekey: %v", err)
			}
			rep, err := Rekey(context.Background(), f.dir, RekeyOptions{Staged: stagedFiles(f.dir)})
			if err != nil || !rep.Resumed {
				t.Fatalf("resume: %+v %v", rep, err)
			}
			f.verify(t)
			if _, err := os.Lstat(filepath.Join(f.dir, RekeyMarkerFile)); err == nil {
				t.Fatal("marker left")
			}
		})
	}
}

// A staged provider that fails (no TPM for the new root) changes nothing
// the store needs: the rekey is rolled back by the next run, and the store
// opens with the old root.
func TestRekeyNewRootUnavailable(t *testing.T) {
	f := newRekeyFixture(t)
	bad := func(Provider) (KeyProvider, error) { return nil, errors.New("no TPM at /dev/tpmrm0") }
	if _, err := Rekey(context.Background(), f.dir, RekeyOptions{Staged: bad, Provider: ProviderTPM2}); !errors.Is(err, ErrKeyUnavailable) {
		t.Fatalf("rekey to a missing TPM: %v", err)
	}
	if _, err := Rekey(context.Background(), f.dir, RekeyOptions{Staged: stagedFiles(f.dir)}); err != nil {
		t.Fatal(err)
	}
	f.verify(t)
}
