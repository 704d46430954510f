package tpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// R25 (wipe = key destruction), R32: destroying the key in the TPM makes
// every copy of the data directory useless, including a byte-for-byte copy
// of the descriptor, and a descriptor carried to another TPM opens nothing.
func TestR25DestroyInTPMDefeatsCopies(t *testing.T) {
	ctx := testCtx(t)
	a := newSWTPM(t)
	ta := a.tpm()

	desc, err := ta.Provision(ctx, Config{}, nil)
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	if desc.Handle != DefaultHandle {
		t.Fatalf("handle %#x, want %#x", desc.Handle, DefaultHandle)
	}
	key, err := ta.Load(ctx, desc)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if len(key) != KeySize || bytes.Equal(key, make([]byte, KeySize)) {
		t.Fatalf("key %d bytes, all zero=%v", len(key), bytes.Equal(key, make([]byte, KeySize)))
	}
	// The data directory keeps only the descriptor; copy it as a thief would.
	file, err := desc.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, key) {
		t.Fatal("the descriptor contains the key")
	}
	dataDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, DescriptorFile), file, 0o600); err != nil {
		t.Fatal(err)
	}
	stolen := bytes.Clone(file)

	// Power cycle: the key persists in the TPM's NV memory.
	a.restart()
	parsed, err := ReadDescriptorFile(filepath.Join(dataDir, DescriptorFile))
	if err != nil {
		t.Fatalf("read descriptor: %v", err)
	}
	again, err := ta.Load(ctx, parsed)
	if err != nil {
		t.Fatalf("load after restart: %v", err)
	}
	if !bytes.Equal(again, key) {
		t.Fatal("load after restart returned another key")
	}

	// Another TPM (the data directory moved to another gateway).
	b := newSWTPM(t)
	tb := b.tpm()
	_, err = tb.Load(ctx, parsed)
	mustErr(t, err, ErrOtherTPM, "load on another TPM")
	mustErr(t, tb.Destroy(ctx, parsed), ErrOtherTPM, "destroy on another TPM")
	// Even with an object of its own at the same handle, the other TPM is
	// recognized as other.
	if _, err := tb.Provision(ctx, Config{}, nil); err != nil {
		t.Fatalf("provision b: %v", err)
	}
	_, err = tb.Load(ctx, parsed)
	mustErr(t, err, ErrOtherTPM, "load on another TPM with its own key at the handle")

	// Wipe.
	if err := ta.Destroy(ctx, parsed); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	_, err = ta.Load(ctx, parsed)
	mustErr(t, err, ErrNotFound, "load after destroy")
	if err := ta.Destroy(ctx, parsed); err != nil {
		t.Fatalf("destroy is idempotent, got %v", err)
	}
	a.restart()
	copyDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(copyDir, DescriptorFile), stolen, 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := ReadDescriptorFile(filepath.Join(copyDir, DescriptorFile))
	if err != nil {
		t.Fatalf("parse stolen copy: %v", err)
	}
	_, err = ta.Load(ctx, restored)
	mustErr(t, err, ErrNotFound, "load with the restored copy after destroy and power cycle")

	// Re-provisioning at the same handle gives a new key; the old
	// descriptor still opens nothing.
	desc2, err := ta.Provision(ctx, Config{}, nil)
	if err != nil {
		t.Fatalf("re-provision: %v", err)
	}
	key2, err := ta.Load(ctx, desc2)
	if err != nil {
		t.Fatalf("load new key: %v", err)
	}
	if bytes.Equal(key2, key) {
		t.Fatal("re-provisioning returned the destroyed key")
	}
	_, err = ta.Load(ctx, restored)
	mustErr(t, err, ErrNotFound, "old descriptor against the re-provisioned handle")
	// Destroy through the old descriptor must not evict the new key.
	if err := ta.Destroy(ctx, restored); err != nil {
		t.Fatalf("destroy with stale descriptor: %v", err)
	}
	if k, err := ta.Load(ctx, desc2); err != nil || !bytes.Equal(k, key2) {
		t.Fatalf("a stale descriptor's Destroy touched the new key: %v", err)
	}
}

// R5, R32: a key bound to PCRs is refused once they change, with a clear
// error, and comes back when they hold the provisioning values again.
func TestR5PCRBoundKeyRefusedAfterExtend(t *testing.T) {
	ctx := testCtx(t)
	s := newSWTPM(t)
	tp := s.tpm()
	desc, err := tp.Provision(ctx, Config{PCRs: []int{23, 16, 23}}, nil)
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	if len(desc.PCRs) != 2 || desc.PCRs[0] != 16 || desc.PCRs[1] != 23 || len(desc.PCRDigest) != sha256.Size {
		t.Fatalf("descriptor PCRs %v digest %d bytes", desc.PCRs, len(desc.PCRDigest))
	}
	key, err := tp.Load(ctx, desc)
	if err != nil {
		t.Fatalf("load: %v", err)
	}

	// Something else runs: extend PCR 23.
	extend(t, s, 23)
	_, err = tp.Load(ctx, desc)
	mustErr(t, err, ErrPCRMismatch, "load after PCR 23 extend")

	// A descriptor edited to claim today's PCR values (checksum redone:
	// it is not a MAC) does not help: the object's policy is fixed.
	forged := desc
	forged.PCRDigest = pcrNow(t, s, desc.PCRs)
	_, err = tp.Load(ctx, forged)
	mustErr(t, err, ErrPCRMismatch, "load with a descriptor forged to today's PCRs")

	// Reboot: PCRs reset to the values at provisioning.
	s.restart()
	again, err := tp.Load(ctx, desc)
	if err != nil {
		t.Fatalf("load after reboot: %v", err)
	}
	if !bytes.Equal(again, key) {
		t.Fatal("another key after reboot")
	}
}

// R32: Provision never overwrites a persistent object that is not ours, and
// a repeated provisioning with our descriptor is a no-op.
func TestR32ProvisionRefusesForeignHandle(t *testing.T) {
	ctx := testCtx(t)
	s := newSWTPM(t)
	tp := s.tpm()
	desc, err := tp.Provision(ctx, Config{Handle: 0x81000123}, nil)
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	key, err := tp.Load(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tp.Provision(ctx, Config{Handle: 0x81000123}, nil)
	mustErr(t, err, ErrHandleInUse, "provision over an object without its descriptor")
	same, err := tp.Provision(ctx, Config{Handle: 0x81000123}, &desc)
	if err != nil || !same.Equal(desc) {
		t.Fatalf("re-provision with our descriptor: %v (equal=%v)", err, same.Equal(desc))
	}
	if k, err := tp.Load(ctx, desc); err != nil || !bytes.Equal(k, key) {
		t.Fatalf("key changed by a refused provisioning: %v", err)
	}
	for _, h := range []uint32{0x80000001, 0x81800000, 0x01000000} {
		_, err = tp.Provision(ctx, Config{Handle: h}, nil)
		if err == nil {
			t.Fatalf("handle %#x accepted", h)
		}
	}
	_, err = tp.Provision(ctx, Config{Handle: 0x81000124, PCRs: []int{24}}, nil)
	if err == nil {
		t.Fatal("PCR 24 accepted")
	}
}

// R32: a TPM in dictionary-attack lockout is reported (Info) and refuses
// provisioning with a clear error; loading the existing key, which is
// exempt from DA accounting, still works (a local process that locks the
// TPM out does not stop the recorder).
func TestR32Lockout(t *testing.T) {
	ctx := testCtx(t)
	s := newSWTPM(t)
	tp := s.tpm()
	desc, err := tp.Provision(ctx, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := tp.Load(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	info, err := tp.Info(ctx)
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	t.Logf("info: %+v", info)
	if info.InLockout || info.Manufacturer == "" {
		t.Fatalf("fresh TPM: %+v", info)
	}
	lockOut(t, s)
	info, err = tp.Info(ctx)
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	if !info.InLockout {
		t.Fatalf("not in lockout after failed authorizations: %+v", info)
	}
	_, err = tp.Provision(ctx, Config{Handle: 0x81000200}, nil)
	mustErr(t, err, ErrLockout, "provision in lockout")
	k, err := tp.Load(ctx, desc)
	if err != nil || !bytes.Equal(k, key) {
		t.Fatalf("load in lockout: %v", err)
	}
}

// R32: no TPM is one clear error, never a fallback.
func TestR32NoTPM(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	notDev := dir + "/tpmrm0"
	if err := os.WriteFile(notDev, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]Opener{
		"missing device": Device(dir + "/nope"),
		"regular file":   Device(notDev),
		"no socket":      Socket("unix", dir+"/nope.sock", true),
		"closed port":    Socket("tcp", "127.0.0.1:1", true),
	} {
		tp := New(op, nil)
		_, err := tp.Info(ctx)
		mustErr(t, err, ErrNoTPM, name+": info")
		_, err = tp.Load(ctx, validDescriptor())
		mustErr(t, err, ErrNoTPM, name+": load")
		_, err = tp.Provision(ctx, Config{}, nil)
		mustErr(t, err, ErrNoTPM, name+": provision")
	}
}

// R32: a damaged descriptor file is one clear error, at every byte.
func TestR32CorruptDescriptor(t *testing.T) {
	for _, d := range []Descriptor{validDescriptor(), validPCRDescriptor()} {
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseDescriptor(b)
		if err != nil || !back.Equal(d) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range b {
			for _, bit := range []byte{0x01, 0x80} {
				c := bytes.Clone(b)
				c[i] ^= bit
				if _, err := ParseDescriptor(c); !errors.Is(err, ErrCorruptDescriptor) {
					t.Fatalf("byte %d ^ %#x: %v", i, bit, err)
				}
			}
		}
		for n := range len(b) {
			if _, err := ParseDescriptor(b[:n]); !errors.Is(err, ErrCorruptDescriptor) {
				t.Fatalf("truncated to %d: %v", n, err)
			}
		}
		if _, err := ParseDescriptor(append(bytes.Clone(b), 0)); !errors.Is(err, ErrCorruptDescriptor) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
	// Through the file: damaged → ErrCorruptDescriptor, missing →
	// fs.ErrNotExist (never provisioned for a TPM), oversized → corrupt.
	dir := t.TempDir()
	b, _ := validDescriptor().MarshalBinary()
	b[len(b)-1] ^= 1
	p := filepath.Join(dir, DescriptorFile)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadDescriptorFile(p)
	mustErr(t, err, ErrCorruptDescriptor, "damaged descriptor file")
	_, err = ReadDescriptorFile(filepath.Join(dir, "missing"))
	mustErr(t, err, fs.ErrNotExist, "missing descriptor file")
	if err := os.WriteFile(p, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ReadDescriptorFile(p)
	mustErr(t, err, ErrCorruptDescriptor, "1 MiB descriptor file")

	// A descriptor that is well formed but names nothing valid never
	// reaches the TPM.
	bad := validDescriptor()
	bad.Name = bad.Name[:10]
	if _, err := bad.MarshalBinary(); !errors.Is(err, ErrCorruptDescriptor) {
		t.Fatalf("short name marshalled: %v", err)
	}
}

// A TPM that accepts the connection and never answers does not hang the
// caller past its context.
func TestR32HungTPMBoundedByContext(t *testing.T) {
	dir, err := os.MkdirTemp("", "hung")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, startup := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		_, err = New(Socket("unix", dir+"/s", startup), nil).Load(ctx, validDescriptor())
		cancel()
		mustErr(t, err, context.DeadlineExceeded, fmt.Sprintf("load from a TPM that never answers (startup %v)", startup))
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
	}
}

// rootProvider is the shape of storage/keys.RootProvider (hal does not
// import storage).
type rootProvider interface {
	Load(ctx context.Context) ([]byte, error)
	Destroy(ctx context.Context) error
}

// R25: the Root adapter is what storage will hold; after its Destroy its
// Load is ErrNotFound (storage maps that to keys.ErrErased). Re-provisioning
// with our descriptor is a no-op, but not with another PCR binding.
func TestR25RootProvider(t *testing.T) {
	ctx := testCtx(t)
	s := newSWTPM(t)
	tp := s.tpm()
	desc, err := tp.Provision(ctx, Config{PCRs: []int{7}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tp.Provision(ctx, Config{}, &desc)
	if err == nil {
		t.Fatal("re-provisioning with another PCR binding returned the old key's descriptor")
	}
	t.Logf("re-provision with other PCRs: %v", err)
	var rp rootProvider = Root{TPM: tp, Desc: desc}
	k, err := rp.Load(ctx)
	if err != nil || len(k) != KeySize {
		t.Fatalf("load: %v", err)
	}
	if err := rp.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	_, err = rp.Load(ctx)
	mustErr(t, err, ErrNotFound, "load after Root.Destroy")
}

func BenchmarkLoad(b *testing.B) {
	ctx := testCtx(b)
	s := newSWTPM(b)
	tp := s.tpm()
	for _, bc := range []struct {
		name string
		cfg  Config
	}{{"plain", Config{Handle: 0x81000301}}, {"pcr7", Config{Handle: 0x81000302, PCRs: []int{7}}}} {
		desc, err := tp.Provision(ctx, bc.cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := tp.Load(ctx, desc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/load")
		})
	}
}

// --- helpers ---

func extend(t *testing.T, s *swtpm, pcr uint32) {
	t.Helper()
	c, err := s.opener()(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := sha256.Sum256([]byte("something else booted"))
	_, err = tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: d[:]}}},
	}.Execute(c)
	if err != nil {
		t.Fatalf("extend PCR %d: %v", pcr, err)
	}
}

func pcrNow(t *testing.T, s *swtpm, pcrs []int) []byte {
	t.Helper()
	c, err := s.opener()(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ss := &session{t: withContext(testCtx(t), c)}
	d, err := ss.pcrDigest(pcrs)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// lockOut sets maxTries to 1 (lockout auth is empty on a fresh TPM) and
// fails one authorization of a DA-protected object.
func lockOut(t *testing.T, s *swtpm) {
	t.Helper()
	c, err := s.opener()(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// TPM2_DictionaryAttackParameters (not wrapped by go-tpm 0.9.8):
	// lockout handle, password session, newMaxTries 1, newRecoveryTime
	// 1000 s, lockoutRecovery 1000 s.
	cmd := []byte{
		0x80, 0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x3A, // TPM_ST_SESSIONS, size (below), TPM_CC_DictionaryAttackParameters
		0x40, 0x00, 0x00, 0x0A, // TPM_RH_LOCKOUT
		0, 0, 0, 9, 0x40, 0, 0, 9, 0, 0, 0, 0, 0, // auth area: TPM_RS_PW, empty nonce, attrs 0, empty hmac
		0, 0, 0, 1, 0, 0, 0x03, 0xE8, 0, 0, 0x03, 0xE8,
	}
	cmd[5] = byte(len(cmd))
	rsp, err := c.Send(cmd)
	if err != nil || len(rsp) < 10 || !bytes.Equal(rsp[6:10], []byte{0, 0, 0, 0}) {
		t.Fatalf("DictionaryAttackParameters: %v %x", err, rsp)
	}
	srk, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(c)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm2.FlushContext{FlushHandle: srk.ObjectHandle}.Execute(c)
	tmpl := sealedTemplate(nil)
	tmpl.ObjectAttributes.NoDA = false
	cr, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			UserAuth: tpm2.TPM2BAuth{Buffer: []byte("pin")},
			Data:     tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: []byte("x")}),
		}},
		InPublic: tpm2.New2B(tmpl),
	}.Execute(c)
	if err != nil {
		t.Fatal(err)
	}
	ld, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    cr.OutPrivate, InPublic: cr.OutPublic,
	}.Execute(c)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm2.FlushContext{FlushHandle: ld.ObjectHandle}.Execute(c)
	for i := range 10 {
		_, err = tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: ld.ObjectHandle, Name: ld.Name, Auth: tpm2.PasswordAuth([]byte("guess"))}}.Execute(c)
		t.Logf("guess %d: %v", i, err)
		if errors.Is(err, tpm2.TPMRCLockout) {
			return
		}
	}
	t.Fatal("the TPM did not enter lockout after 10 wrong guesses")
}

func validDescriptor() Descriptor {
	n := append([]byte{0x00, 0x0B}, bytes.Repeat([]byte{0xAA}, 32)...)
	s := append([]byte{0x00, 0x0B}, bytes.Repeat([]byte{0x55}, 32)...)
	return Descriptor{Handle: DefaultHandle, Name: n, SRKName: s}
}

func validPCRDescriptor() Descriptor {
	d := validDescriptor()
	d.PCRs = []int{0, 7, 23}
	d.PCRDigest = bytes.Repeat([]byte{0x11}, 32)
	return d
}
