package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/ring"
)

// secret is a byte string that must not survive a wipe.
type secret struct {
	what string
	b    []byte
}

// wipeFixture records known content on two cameras (with a legal hold, so
// there is a hold key), closes the store and collects every secret: the
// plaintext access units, a sample of the ring's ciphertext, the root key
// and its file, every epoch and hold key (plaintext and file bytes), and
// the camera ids (in index.db and in no file name). It also opens a file
// descriptor on each of those files, so that the test can read what is left
// in their blocks after the wipe unlinked them.
func wipeFixture(t *testing.T, dir string) (secrets []secret, fds []*os.File) {
	t.Helper()
	ctx := context.Background()
	s := openStore(t, dir, Options{ChunkSize: 16 << 10})
	var seq uint64
	cams := []string{"cam-wipe-front", "cam-wipe-back"}
	var ws []written
	for i, c := range cams {
		ws = append(ws, recordSegment(t, s, c, byte(0x30+i), &seq, t0, 90, 30, 6000, 66*time.Millisecond))
		ws = append(ws, recordSegment(t, s, c, byte(0x30+i), &seq, t0.Add(24*time.Hour), 60, 30, 6000, 66*time.Millisecond))
	}
	holdID, err := s.Hold(ctx, cams[0], t0, t0.Add(time.Minute), "grant-wipe")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for _, w := range ws {
		for i, f := range w.frames {
			if i%7 == 0 || f.Key {
				// 48 bytes from the middle of the payload: long enough to be
				// unique, and inside the low-entropy slice data.
				secrets = append(secrets, secret{fmt.Sprintf("payload %s #%d", w.cam, i), f.Data[len(f.Data)/2 : len(f.Data)/2+48]})
			}
		}
	}
	for _, c := range cams {
		secrets = append(secrets, secret{"camera id " + c, []byte(c)})
	}
	rootFile, err := os.ReadFile(filepath.Join(dir, RootKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	root, err := keys.ParseRootFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, secret{"root key", root}, secret{"root key file", rootFile})
	ks, err := keys.Open(filepath.Join(dir, KeysDir), root, true)
	if err != nil {
		t.Fatal(err)
	}
	nEpoch := 0
	for _, c := range cams {
		for _, day := range []time.Time{t0, t0.Add(24 * time.Hour)} {
			for gen := uint32(0); gen < 3; gen++ {
				k, err := ks.EpochKey(keys.EpochID{Camera: c, Day: keys.DayOf(day), Gen: gen}, false)
				if err == nil {
					secrets = append(secrets, secret{fmt.Sprintf("epoch key %s %s", c, keys.DayOf(day)), bytes.Clone(k)})
					nEpoch++
				}
			}
		}
	}
	if nEpoch != 4 {
		t.Fatalf("found %d epoch keys, want 4", nEpoch)
	}
	hk, err := ks.HoldKey(holdID, false)
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, secret{"hold key", bytes.Clone(hk)})
	ks.Close()

	// Ciphertext sample from the data region and the ring header.
	rb, err := os.ReadFile(filepath.Join(dir, RingFile))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ring.ParseHeader(rb[:ring.BlockSize])
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, secret{"ring header", rb[:128]}, secret{"ring id", h.RingID[:]},
		secret{"ring ciphertext", rb[h.DataOff+1000 : h.DataOff+1064]})

	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".key") && strings.Contains(p, KeysDir) {
			secrets = append(secrets, secret{"key file " + filepath.Base(p), b})
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		fds = append(fds, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rf, err := os.Open(filepath.Join(dir, RingFile)); err == nil { // the symlink's target, if any
		fds = append(fds, rf)
	}
	t.Cleanup(func() {
		for _, f := range fds {
			f.Close()
		}
	})
	return secrets, fds
}

// scanFor fails the test for every secret found in r.
func scanFor(t *testing.T, where string, b []byte, secrets []secret) {
	t.Helper()
	for _, s := range secrets {
		if len(s.b) >= 8 && bytes.Count(s.b, []byte{0}) < len(s.b)/2 && bytes.Contains(b, s.b) {
			t.Errorf("%s still holds the %s", where, s.what)
		}
	}
}

func scanDir(t *testing.T, dir string, secrets []secret) (files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		scanFor(t, "file name "+p, []byte(p), secrets)
		if !d.Type().IsRegular() {
			return nil
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		scanFor(t, p, b, secrets)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func scanFDs(t *testing.T, fds []*os.File, secrets []secret) {
	t.Helper()
	for _, f := range fds {
		b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<40))
		if err != nil {
			t.Fatalf("read %s: %v", f.Name(), err)
		}
		scanFor(t, "the blocks of "+f.Name()+" (read through an fd held across the wipe)", b, secrets)
	}
}

func checkStepOrder(t *testing.T, rep WipeReport) {
	t.Helper()
	var names []string
	for _, s := range rep.Steps {
		names = append(names, s.Name)
		if s.Result == ResultFailed {
			t.Errorf("step %s failed: %s", s.Name, s.Error)
		}
	}
	want := []string{StepMarker, StepRootKey, StepEpochKeys, StepHoldKeys, StepRingHeader, StepIndex}
	for i := range rep.Passes {
		_ = i
		want = append(want, StepOverwrite)
	}
	want = append(want, StepDiscard, StepRemove, StepDone)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("steps %v, want %v", names, want)
	}
}

// R25, D5: record known content, wipe, then search every byte of the data
// directory — and every byte left in the blocks of the files the wipe
// unlinked — for the recorded H.264, the ciphertext, the root key and the
// epoch and hold keys: none is found. The root key is destroyed first, the
// store then refuses to open ("no data") and can be provisioned again.
func TestR25WipeLeavesNothing(t *testing.T) {
	for _, passes := range []int{0, 1} {
		t.Run(fmt.Sprintf("passes=%d", passes), func(t *testing.T) {
			ctx := context.Background()
			dir := provision(t, ProvisionOptions{RingSize: 8 << 20})
			secrets, fds := wipeFixture(t, dir)
			// Sanity: the secrets are there before the wipe (the scan works).
			var before bytes.Buffer
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					b, _ := os.ReadFile(p)
					before.Write(b)
				}
				return nil
			})
			for _, s := range secrets {
				if strings.HasPrefix(s.what, "root key") || strings.HasPrefix(s.what, "ring ciphertext") || strings.HasPrefix(s.what, "key file") {
					if !bytes.Contains(before.Bytes(), s.b) {
						t.Fatalf("scan cannot see the %s before the wipe", s.what)
					}
				}
			}

			var progress []int64
			rep, err := Wipe(ctx, dir, WipeOptions{Passes: passes, Progress: func(done, total int64) {
				if total != int64(passes)*(8<<20) {
					t.Errorf("progress total %d", total)
				}
				progress = append(progress, done)
			}})
			if err != nil {
				t.Fatalf("wipe: %v\n%+v", err, rep)
			}
			checkStepOrder(t, rep)
			if !rep.OK() || rep.KeysDestroyed != 1+1+4+1 || // root, vault, epochs, hold
				rep.RingBytes != 8<<20 || rep.RingID == "" {
				t.Fatalf("report %+v", rep)
			}
			if passes > 0 && (len(progress) == 0 || progress[len(progress)-1] != 8<<20) {
				t.Fatalf("progress %v", progress)
			}
			wantOver := int64(passes) * (8 << 20)
			if rep.BytesOverwritten < wantOver+ring.BlockSize+int64(keys.RootFileSize) {
				t.Fatalf("bytes overwritten %d", rep.BytesOverwritten)
			}
			for _, s := range rep.Steps {
				if s.Name == StepDiscard && (s.Result != ResultOK || s.Method != "punch-hole") {
					t.Errorf("discard step %+v", s)
				}
			}

			if files := scanDir(t, dir, secrets); files != 1 {
				t.Errorf("%d files left in the data dir, want only %s", files, WipeMarkerFile)
			}
			scanFDs(t, fds, secrets)

			if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrWiped) {
				t.Fatalf("Open after wipe = %v, want ErrWiped", err)
			}
			if _, err := CheckDir(ctx, dir, CheckOptions{}); !errors.Is(err, ErrWiped) || !strings.Contains(err.Error(), "no data") {
				t.Fatalf("CheckDir after wipe = %v, want ErrWiped (no data)", err)
			}
			if _, err := Wipe(ctx, dir, WipeOptions{}); !errors.Is(err, ErrWiped) {
				t.Fatalf("second wipe = %v, want ErrWiped", err)
			}
			// Provisioning again gives a working, empty store.
			if err := Provision(ctx, dir, ProvisionOptions{RingSize: 8 << 20}); err != nil {
				t.Fatalf("provision after wipe: %v", err)
			}
			s := openStore(t, dir, Options{})
			if st := s.Stats(); st.Segments != 0 {
				t.Fatalf("new store has %d segments", st.Segments)
			}
			s.Close()
		})
	}
}

// R25: a wipe interrupted during the overwrite (the box lost power, the
// operator cancelled) leaves the root key destroyed and the store refused;
// running it again completes it.
func TestR25WipeInterruptedThenResumed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := provision(t, ProvisionOptions{RingSize: 8 << 20})
	secrets, _ := wipeFixture(t, dir)
	rep, err := Wipe(ctx, dir, WipeOptions{Passes: 1, Progress: func(done, total int64) {
		if done >= total/2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("wipe = %v, want cancelled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, RootKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("root key survived an interrupted wipe")
	}
	if last := rep.Steps[len(rep.Steps)-1]; last.Name != StepOverwrite || last.Result != ResultFailed {
		t.Fatalf("last step %+v", last)
	}
	if _, err := Open(context.Background(), dir, Options{}); !errors.Is(err, ErrWiped) || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("Open = %v", err)
	}
	if err := Provision(context.Background(), dir, ProvisionOptions{RingSize: 8 << 20}); !errors.Is(err, ErrExists) {
		t.Fatalf("provision over a half-wiped store = %v, want ErrExists", err)
	}
	rep, err = Wipe(context.Background(), dir, WipeOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("resume: %v %+v", err, rep)
	}
	for _, s := range rep.Steps {
		if s.Name == StepRootKey && s.Result != ResultAbsent {
			t.Errorf("root key step on resume: %+v", s)
		}
	}
	scanDir(t, dir, secrets)
	if w, fin := Wiped(dir); !w || !fin {
		t.Fatal("marker not finished")
	}
}

// Bad input: a directory without a store is not "wiped", it is refused.
func TestWipeRefusesEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if _, err := Wipe(context.Background(), dir, WipeOptions{}); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("wipe of empty dir = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, WipeMarkerFile)); err == nil {
		t.Fatal("marker written into a directory without a store")
	}
	if _, err := Wipe(context.Background(), dir, WipeOptions{Passes: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative passes = %v", err)
	}
}

// R25: the ring on a block device (a loop device standing in for the SD
// card partition): header overwritten, device discarded (BLKSECDISCARD or
// BLKDISCARD), symlink removed; then every byte of the device and of the
// image behind it is searched. Needs root and losetup.
func TestR25WipeRingOnBlockDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for losetup")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed")
	}
	img := filepath.Join(t.TempDir(), "part.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 9<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })

	ctx := context.Background()
	dir := t.TempDir() + "/data"
	if err := Provision(ctx, dir, ProvisionOptions{RingSize: 8 << 20, RingPath: dev}); err != nil {
		t.Fatal(err)
	}
	secrets, _ := wipeFixture(t, dir)
	rep, err := Wipe(ctx, dir, WipeOptions{})
	if err != nil {
		t.Fatalf("wipe: %v", err)
	}
	checkStepOrder(t, rep)
	if !rep.RingIsDevice || rep.RingPath != dev {
		t.Fatalf("report %+v", rep)
	}
	for _, s := range rep.Steps {
		if s.Name == StepDiscard {
			t.Logf("discard on %s: %s %s (%s)", dev, s.Result, s.Method, s.Note)
			if s.Result != ResultOK && s.Result != ResultNotSupported {
				t.Errorf("discard %+v", s)
			}
		}
	}
	scanDir(t, dir, secrets)
	for _, p := range []string{dev, img} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		scanFor(t, p, b, secrets)
		if ring.IsRing(b) {
			t.Errorf("%s still starts with a ring header", p)
		}
	}
	if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrWiped) {
		t.Fatalf("Open = %v", err)
	}
	if err := Provision(ctx, dir, ProvisionOptions{RingSize: 8 << 20, RingPath: dev}); err != nil {
		t.Fatalf("provision again on the same device: %v", err)
	}
}

// BenchmarkWipe measures a decommission wipe with one overwrite pass of a
// 256 MiB ring (EDGEREC_WIPE_MIB overrides) and reports seconds per GiB:
//
//	go test -run '^$' -bench Wipe -benchtime 1x ./storage
func BenchmarkWipe(b *testing.B) {
	mib := int64(256)
	if v := os.Getenv("EDGEREC_WIPE_MIB"); v != "" {
		fmt.Sscan(v, &mib)
	}
	size := mib << 20
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir() + "/data"
		if err := Provision(context.Background(), dir, ProvisionOptions{RingSize: size}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rep, err := Wipe(context.Background(), dir, WipeOptions{Passes: 1})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.SetBytes(rep.BytesOverwritten)
	}
	per := total.Seconds() / float64(b.N)
	b.ReportMetric(per/(float64(size)/(1<<30)), "s/GiB")
}
