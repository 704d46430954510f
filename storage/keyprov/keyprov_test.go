package keyprov

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/hal/rpiotp"
	"github.com/edgerec/edgerec/hal/tpm"
	"github.com/edgerec/edgerec/hal/tpm/swtpmtest"
	"github.com/edgerec/edgerec/storage"
)

// dirDigest lists every file under dir with its SHA-256 (what "nothing
// overwritten" is checked against).
func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %x", rel, sha256.Sum256(b)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// copyDir copies a data dir byte for byte (a thief's image of the card, or
// a backup).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}

// tpmStore provisions a tpm2 store on sw and records one segment of
// recognisable frames.
func tpmStore(t *testing.T, ctx context.Context, sw *swtpmtest.SWTPM) (dir string, ks Settings, start time.Time) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	ks = Settings{TPM: sw.Spec()}
	log := slog.New(slog.DiscardHandler)
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 16 << 20, Provider: storage.ProviderTPM2, Keys: Providers(dir, ks, log)}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{Keys: Providers(dir, ks, log)})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now().Add(-time.Hour).Truncate(time.Second)
	w, err := st.BeginSegment(ctx, storage.SegmentMeta{Camera: "door", Start: start, ClockSynced: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := w.WriteFrame(storage.Frame{Time: start.Add(time.Duration(i) * 100 * time.Millisecond), Key: i == 0, Data: []byte("\x00\x00\x00\x01\x67MARKER-SPS-door")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ks, start
}

func keyCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Issue 13 (R32): a copy of the card opened against another TPM is refused
// with one clear error, nothing in the copy is changed, and nothing
// decrypts; the original TPM opens it.
func TestR32CardInAnotherTPMRefused(t *testing.T) {
	ctx := keyCtx(t)
	a := swtpmtest.New(t)
	dir, ks, start := tpmStore(t, ctx, a)
	stolen := filepath.Join(t.TempDir(), "stolen")
	copyDir(t, dir, stolen)
	before := dirDigest(t, stolen)

	b := swtpmtest.New(t) // the thief's machine: another chip
	other := Settings{TPM: b.Spec()}
	_, err := storage.Open(ctx, stolen, storage.Options{Keys: Providers(stolen, other, nil)})
	if !errors.Is(err, storage.ErrKeyUnavailable) || !errors.Is(err, tpm.ErrOtherTPM) {
		t.Fatalf("open with another TPM: %v", err)
	}
	t.Logf("another TPM: %v", err)
	if _, err := storage.OpenVault(ctx, stolen, Providers(stolen, other, nil)); !errors.Is(err, storage.ErrKeyUnavailable) {
		t.Fatalf("vault with another TPM: %v", err)
	}
	// No TPM at all, and the file provider only: refused too, never a fallback.
	if _, err := storage.Open(ctx, stolen, storage.Options{}); !errors.Is(err, storage.ErrKeyUnavailable) {
		t.Fatalf("open without a TPM provider: %v", err)
	}
	if after := dirDigest(t, stolen); after != before {
		t.Fatalf("a refused open changed the copy:\n%s\n---\n%s", before, after)
	}
	st, err := storage.Open(ctx, stolen, storage.Options{Keys: Providers(stolen, ks, nil)})
	if err != nil {
		t.Fatalf("the original TPM: %v", err)
	}
	defer st.Close()
	n := 0
	if err := st.ReadFrames(ctx, "door", start, start.Add(time.Minute), func(storage.Frame) error { n++; return nil }); err != nil || n != 10 {
		t.Fatalf("read with the original TPM: %d frames, %v", n, err)
	}
}

// Issue 13 (R25): decommission with tpm2 evicts the TPM object first; a
// byte-for-byte backup of the data dir taken before the wipe and restored
// afterwards opens nothing, in the same gateway.
func TestR25WipedTPMBackupStaysDead(t *testing.T) {
	ctx := keyCtx(t)
	sw := swtpmtest.New(t)
	dir, ks, _ := tpmStore(t, ctx, sw)
	backup := filepath.Join(t.TempDir(), "backup")
	copyDir(t, dir, backup)

	rep, err := storage.Wipe(ctx, dir, storage.WipeOptions{Keys: Providers(dir, ks, nil)})
	if err != nil || !rep.OK() {
		t.Fatalf("wipe: %+v %v", rep, err)
	}
	if rep.Steps[1].Name != storage.StepProviderKey || rep.Steps[1].Result != storage.ResultOK || rep.KeyProvider != "tpm2" {
		t.Fatalf("the TPM object was not destroyed first: %+v", rep.Steps[1])
	}
	_, err = storage.Open(ctx, backup, storage.Options{Keys: Providers(backup, ks, nil)})
	if !errors.Is(err, storage.ErrKeyUnavailable) || !errors.Is(err, tpm.ErrNotFound) {
		t.Fatalf("restored backup after the wipe: %v", err)
	}
	t.Logf("restored backup: %v", err)
	if _, err := storage.OpenVault(ctx, backup, Providers(backup, ks, nil)); !errors.Is(err, storage.ErrKeyUnavailable) {
		t.Fatalf("vault of the restored backup: %v", err)
	}
}

// Issue 13: the TPM gone (swtpm stopped: a module pulled off the header)
// is one clear error within the context, and nothing is written.
func TestKeyUnavailableTPMMissing(t *testing.T) {
	ctx := keyCtx(t)
	sw := swtpmtest.New(t)
	dir, ks, _ := tpmStore(t, ctx, sw)
	sw.Stop()
	before := dirDigest(t, dir)
	_, err := storage.Open(ctx, dir, storage.Options{Keys: Providers(dir, ks, nil)})
	if !errors.Is(err, storage.ErrKeyUnavailable) || !errors.Is(err, tpm.ErrNoTPM) || !strings.Contains(err.Error(), "tpm2") {
		t.Fatalf("open without the TPM: %v", err)
	}
	t.Logf("no TPM: %v", err)
	if dirDigest(t, dir) != before {
		t.Fatal("a refused open wrote to the data dir")
	}
}

// Bad input (issue 13): a ring header naming an unknown provider, and a
// damaged TPM descriptor, are one clear error each and change nothing.
func TestKeyProviderBadInput(t *testing.T) {
	ctx := keyCtx(t)
	sw := swtpmtest.New(t)
	dir, ks, _ := tpmStore(t, ctx, sw)

	t.Run("unknown provider in the ring header", func(t *testing.T) {
		d := filepath.Join(t.TempDir(), "d")
		copyDir(t, dir, d)
		f, err := os.OpenFile(filepath.Join(d, storage.RingFile), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4096)
		io.ReadFull(f, b)
		binary.LittleEndian.PutUint32(b[120:], 7)
		binary.LittleEndian.PutUint32(b[124:], crc32.Checksum(b[:124], crc32.MakeTable(crc32.Castagnoli)))
		f.WriteAt(b, 0)
		f.Close()
		before := dirDigest(t, d)
		_, err = storage.Open(ctx, d, storage.Options{Keys: Providers(d, ks, nil)})
		if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), "unknown key provider 7") {
			t.Fatalf("unknown provider: %v", err)
		}
		if dirDigest(t, d) != before {
			t.Fatal("changed")
		}
	})
	t.Run("damaged TPM descriptor", func(t *testing.T) {
		d := filepath.Join(t.TempDir(), "d")
		copyDir(t, dir, d)
		p := filepath.Join(d, storage.TPMDescriptorFile)
		b, _ := os.ReadFile(p)
		b[20] ^= 0xff
		os.WriteFile(p, b, 0o600)
		before := dirDigest(t, d)
		_, err := storage.Open(ctx, d, storage.Options{Keys: Providers(d, ks, nil)})
		if !errors.Is(err, storage.ErrKeyUnavailable) || !errors.Is(err, tpm.ErrCorruptDescriptor) {
			t.Fatalf("damaged descriptor: %v", err)
		}
		if dirDigest(t, d) != before {
			t.Fatal("changed")
		}
	})
}

// Issue 13: the rpi-otp provider end to end through a fake VideoCore
// mailbox: an unprogrammed OTP needs --program-otp with the board serial;
// then the store opens on this board only; a refused mailbox or a truncated
// answer is one clear error and nothing is written.
func TestRPiOTPProvider(t *testing.T) {
	ctx := keyCtx(t)
	board := rpiotp.NewFake(0x00000000_d00dfeed, nil)
	ks := Settings{OTP: board}
	if err := PrepareOTP(ctx, ks, "", io.Discard); !errors.Is(err, rpiotp.ErrNotProgrammed) || !strings.Contains(err.Error(), "--program-otp") {
		t.Fatalf("unprogrammed OTP without --program-otp: %v", err)
	}
	if err := PrepareOTP(ctx, ks, "0000000012345678", io.Discard); !errors.Is(err, rpiotp.ErrNotConfirmed) || board.Writes() != 0 {
		t.Fatalf("wrong serial: %v (writes %d)", err, board.Writes())
	}
	if err := PrepareOTP(ctx, ks, "00000000d00dfeed", io.Discard); err != nil || board.Writes() == 0 {
		t.Fatalf("program: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 16 << 20, Provider: storage.ProviderRPiOTP, Keys: Providers(dir, ks, nil)}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{Keys: Providers(dir, ks, nil)})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	wrapped, _ := os.ReadFile(filepath.Join(dir, storage.OTPWrappedFile))
	if bytes.Contains(wrapped, board.Key()) {
		t.Fatal("the OTP key is in the wrapped file")
	}
	before := dirDigest(t, dir)
	for name, mb := range map[string]*rpiotp.Fake{
		"another board": rpiotp.NewFake(0x00000000_d00dfeed, bytes.Repeat([]byte{7}, rpiotp.KeySize)),
		"refused": func() *rpiotp.Fake {
			f := rpiotp.NewFake(0x00000000_d00dfeed, board.Key())
			f.Refuse = true
			return f
		}(),
		"truncated answer": func() *rpiotp.Fake {
			f := rpiotp.NewFake(0x00000000_d00dfeed, board.Key())
			f.Mangle = func(buf []uint32) { buf[0] = 12 }
			return f
		}(),
		"not programmed": rpiotp.NewFake(0x00000000_d00dfeed, nil),
	} {
		_, err := storage.Open(ctx, dir, storage.Options{Keys: Providers(dir, Settings{OTP: mb}, nil)})
		if !errors.Is(err, storage.ErrKeyUnavailable) {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	if dirDigest(t, dir) != before {
		t.Fatal("a refused open wrote to the data dir")
	}
}

// BenchmarkRootKeyLoad: the unseal at start (issue 13, "Performance"):
// loading the root key from each provider, and a whole storage.Open.
//
//	go test -run '^$' -bench RootKeyLoad -benchtime 20x ./storage/keyprov/
func BenchmarkRootKeyLoad(b *testing.B) {
	ctx := context.Background()
	sw := swtpmtest.New(b)
	for _, p := range []storage.Provider{storage.ProviderFile, storage.ProviderTPM2} {
		dir := filepath.Join(b.TempDir(), "data")
		ks := Settings{TPM: sw.Spec()}
		kps := Providers(dir, ks, nil)
		if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 16 << 20, Provider: p, Keys: kps}); err != nil {
			b.Fatal(err)
		}
		kp, _ := kps(p)
		b.Run(p.String()+"/load", func(b *testing.B) {
			for b.Loop() {
				if _, err := kp.Load(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(p.String()+"/open", func(b *testing.B) {
			for b.Loop() {
				st, err := storage.Open(ctx, dir, storage.Options{Keys: kps})
				if err != nil {
					b.Fatal(err)
				}
				st.Close()
			}
		})
	}
}
