package blockdev

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func fill(t *testing.T, f *os.File, n int) []byte {
	t.Helper()
	b := bytes.Repeat([]byte("edgerec-secret!"), n/15+1)[:n]
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return b
}

// R25: on a regular file, discard punches a hole: the bytes read back as
// zeros, the blocks are freed, the size is kept.
func TestR25PunchHoleRegularFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ring")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const n = 1 << 20
	fill(t, f, n)
	if sz, err := Size(f); err != nil || sz != n {
		t.Fatalf("Size = %d, %v", sz, err)
	}
	res, err := Discard(f, 4096, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Supported {
		t.Skipf("file system of %s cannot punch holes: %s", p, res.Note)
	}
	if res.Method != MethodPunchHole || res.Bytes != n-4096 || res.Offset != 4096 {
		t.Fatalf("result %+v", res)
	}
	got := make([]byte, n)
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got[4096:], []byte("secret")) || !bytes.Equal(got[4096:], make([]byte, n-4096)) {
		t.Fatal("punched range still holds data")
	}
	if !bytes.Contains(got[:4096], []byte("secret")) {
		t.Fatal("bytes before the range were discarded")
	}
	st, _ := f.Stat()
	if st.Size() != n {
		t.Fatalf("size changed to %d", st.Size())
	}
	if blocks := st.Sys().(*syscall.Stat_t).Blocks; blocks*512 > 64<<10 {
		t.Fatalf("%d bytes still allocated after punching", blocks*512)
	}
}

func TestDiscardBadRange(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fill(t, f, 8192)
	for _, r := range [][2]int64{{-1, 10}, {0, 8193}, {8000, 500}} {
		if _, err := Discard(f, r[0], r[1], false); !errors.Is(err, ErrRange) {
			t.Errorf("Discard(%d, %d) = %v, want ErrRange", r[0], r[1], err)
		}
	}
	if res, err := Discard(f, 8192, 0, false); err != nil || !res.Supported || res.Bytes != 0 {
		t.Errorf("empty range: %+v %v", res, err)
	}
}

// A character device is neither a file nor a block device: a clear error.
func TestSizeCharDevice(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if _, err := Size(f); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("Size(/dev/null) = %v", err)
	}
	if IsBlockDevice(f) {
		t.Fatal("/dev/null is not a block device")
	}
}

// R25: on a real block device (a loop device over a file) BLKGETSIZE64
// gives the size; a secure discard falls back to BLKDISCARD (loop has no
// secure discard) and the range reads back as zeros. Needs root and
// losetup: skipped otherwise, with the reason.
func TestR25LoopDeviceDiscard(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for losetup")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed")
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, bytes.Repeat([]byte("edgerec-secret!"), (4<<20)/15+1)[:4<<20], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !IsBlockDevice(f) {
		t.Fatalf("%s is not a block device", dev)
	}
	sz, err := Size(f)
	if err != nil || sz != 4<<20 {
		t.Fatalf("Size = %d, %v", sz, err)
	}
	res, err := Discard(f, 0, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loop discard: %+v", res)
	if !res.Supported {
		t.Skipf("loop device cannot discard here: %s", res.Note)
	}
	if res.Method != MethodSecDiscard && res.Method != MethodDiscard {
		t.Fatalf("method %s", res.Method)
	}
	got := make([]byte, 4<<20)
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte("secret")) {
		t.Fatal("discarded device still returns the data")
	}
}
