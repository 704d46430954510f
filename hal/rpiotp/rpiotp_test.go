package rpiotp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The example from Raspberry Pi's documentation ("vcmailbox 0x00030081 40
// 40 0 8 0 0 0 0 0 0 0 0" and its answer) and the hex key
// rpi-otp-private-key prints for it.
var (
	docAnswer = []uint32{0x00000040, 0x80000000, 0x00030081, 0x00000028, 0x80000028, 0x00000000, 0x00000008,
		0xf8dbc7b0, 0xa4fcfb1d, 0x706e298a, 0xc9d0485c, 0x2226ce8d, 0xf7f7596a, 0xc77337bd, 0x09fbe160, 0x00000000}
	docKeyHex = "f8dbc7b0a4fcfb1d706e298ac9d0485c2226ce8df7f7596ac77337bd09fbe160"
)

const (
	serialA    = 0x10000000ad8e94a8
	serialAStr = "10000000ad8e94a8"
	serialB    = 0x100000001234abcd
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func docKey(t *testing.T) []byte {
	t.Helper()
	k, err := hex.DecodeString(docKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Provider has the shape of storage/keys.RootProvider (hal cannot import
// it; the shape is checked here and by the integration later).
var _ interface {
	Load(context.Context) ([]byte, error)
	Destroy(context.Context) error
} = Provider{}

func newProvider(t *testing.T, f *Fake) Provider {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return Provider{OTP: New(f), Path: filepath.Join(dir, "root.otpwrap")}
}

// The request is word for word the documented vcmailbox call, and the
// documented answer parses to the key rpi-otp-private-key prints.
func TestProtocolMatchesRaspberryPiDocumentation(t *testing.T) {
	req := keyRequest(TagGetPrivateKey, nil)
	want := []uint32{64, 0, 0x00030081, 40, 40, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if !slicesEqual(req, want) {
		t.Fatalf("request %#x, want %#x", req, want)
	}
	rows, err := parseKeyResponse(append([]uint32(nil), docAnswer...), TagGetPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(rowsToKey(rows)); got != docKeyHex {
		t.Fatalf("key %s, rpi-otp-private-key prints %s", got, docKeyHex)
	}
	// The fake answers the same request with the same words.
	f := NewFake(serialA, docKey(t))
	if err := f.Property(req); err != nil {
		t.Fatal(err)
	}
	if !slicesEqual(req, docAnswer) {
		t.Fatalf("fake answer %#x, documented %#x", req, docAnswer)
	}
}

func slicesEqual(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSerial(t *testing.T) {
	s, err := New(NewFake(serialA, nil)).Serial(context.Background())
	if err != nil || s != serialAStr {
		t.Fatalf("Serial = %q, %v; want %q", s, err, serialAStr)
	}
}

// R32, R5: programmed board → create → load again (fresh OTP reader) → the
// same root key; the file holds neither the root key nor the OTP key.
func TestR32ProgrammedCreateLoadSameRootKey(t *testing.T) {
	f := NewFake(serialA, docKey(t))
	p := newProvider(t, f)
	ctx := context.Background()
	root, err := p.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(root) != RootKeySize || allZero(root) {
		t.Fatalf("root key %d bytes", len(root))
	}
	got, err := Provider{OTP: New(f), Path: p.Path}.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, root) {
		t.Fatal("loaded root key differs from the created one")
	}
	b, _ := os.ReadFile(p.Path)
	st, _ := os.Stat(p.Path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if bytes.Contains(b, root) || bytes.Contains(b, docKey(t)) || bytes.Contains(b, root[:8]) {
		t.Fatal("wrapped file contains key material in the clear")
	}
	info, err := ParseWrapped(b)
	if err != nil || info.Serial != serialAStr || info.Version != 1 {
		t.Fatalf("ParseWrapped = %+v, %v", info, err)
	}
	// A second Create never replaces the file.
	if _, err := p.Create(ctx); !errors.Is(err, ErrExists) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: %v", err)
	}
	if b2, _ := os.ReadFile(p.Path); !bytes.Equal(b, b2) {
		t.Fatal("second Create changed the file")
	}
}

// R32: an unprogrammed OTP is an error everywhere, never a fallback.
func TestR32NotProgrammed(t *testing.T) {
	ctx := context.Background()
	f := NewFake(serialA, nil)
	if k, err := New(f).ReadKey(ctx); !errors.Is(err, ErrNotProgrammed) || k != nil {
		t.Fatalf("ReadKey = %x, %v", k, err)
	}
	p := newProvider(t, f)
	if _, err := p.Create(ctx); !errors.Is(err, ErrNotProgrammed) {
		t.Fatalf("Create: %v", err)
	}
	if _, err := os.Stat(p.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Create wrote a file without an OTP key")
	}
	// A file made while programmed, loaded on a board reading zeros.
	pf := newProvider(t, NewFake(serialA, key(7)))
	if _, err := pf.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := (Provider{OTP: New(f), Path: pf.Path}).Load(ctx); !errors.Is(err, ErrNotProgrammed) {
		t.Fatalf("Load: %v", err)
	}
	if ok, err := New(f).Programmed(ctx); ok || err != nil {
		t.Fatalf("Programmed = %v, %v", ok, err)
	}
}

func TestR32RefusedUnsupportedMissing(t *testing.T) {
	ctx := context.Background()
	good := NewFake(serialA, key(9))
	p := newProvider(t, good)
	if _, err := p.Create(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fake *Fake
		want error
	}{
		{"refused", &Fake{Refuse: true, serial: serialA, rows: keyToRows(key(9))}, ErrRefused},
		{"unsupported", &Fake{Unsupported: true, serial: serialA, rows: keyToRows(key(9))}, ErrUnsupported},
		{"missing", &Fake{Missing: true, serial: serialA, rows: keyToRows(key(9))}, ErrNoDevice},
	} {
		t.Run(c.name, func(t *testing.T) {
			if k, err := New(c.fake).ReadKey(ctx); !errors.Is(err, c.want) || k != nil {
				t.Fatalf("ReadKey = %x, %v; want %v", k, err, c.want)
			}
			if k, err := (Provider{OTP: New(c.fake), Path: p.Path}).Load(ctx); !errors.Is(err, c.want) || k != nil {
				t.Fatalf("Load = %x, %v; want %v", k, err, c.want)
			}
		})
	}
}

// Every malformed answer is ErrTruncated (or the named error), never a key.
func TestR32TruncatedAndMalformedAnswers(t *testing.T) {
	ctx := context.Background()
	type tc struct {
		name   string
		mangle func([]uint32)
		want   error
	}
	var cases []tc
	full := len(keyRequest(TagGetPrivateKey, nil)) * 4
	// The answer cut to every length below the full message, in bytes
	// (including sizes that are not whole words), and claiming more than
	// the buffer.
	for n := 0; n < full; n++ {
		cases = append(cases, tc{name: "size" + itoa(n), want: ErrTruncated, mangle: func(b []uint32) {
			b[0] = uint32(n)
			for i := (n + 3) / 4; i < len(b); i++ {
				if i > 0 {
					b[i] = 0
				}
			}
		}})
	}
	cases = append(cases, tc{"size beyond buffer", func(b []uint32) { b[0] = uint32(4*len(b) + 4) }, ErrTruncated})
	// The value length answered short of the 40 bytes asked, or longer
	// than the buffer.
	for n := 0; n < keyValueBytes; n++ {
		cases = append(cases, tc{"value" + itoa(n), func(b []uint32) { b[4] = responseBit | uint32(n) }, ErrTruncated})
	}
	cases = append(cases,
		tc{"value too long for buffer", func(b []uint32) { b[4] = responseBit | uint32(keyValueBytes+4) }, ErrTruncated},
		tc{"wrong tag echoed", func(b []uint32) { b[2] = TagGetBoardSerial }, ErrTruncated},
		tc{"set tag echoed", func(b []uint32) { b[2] = TagSetPrivateKey }, ErrTruncated},
		tc{"value buffer size changed", func(b []uint32) { b[3] = 36 }, ErrTruncated},
		tc{"other row offset", func(b []uint32) { b[5] = 1 }, ErrTruncated},
		tc{"fewer rows", func(b []uint32) { b[6] = 4 }, ErrTruncated},
		tc{"no end tag", func(b []uint32) { b[len(b)-1] = 0xdeadbeef }, ErrTruncated},
		tc{"code unchanged", func(b []uint32) { b[1] = codeRequest }, ErrTruncated},
		tc{"unknown code", func(b []uint32) { b[1] = 0x80000002 }, ErrTruncated},
		tc{"error code", func(b []uint32) { b[1] = codeError }, ErrRefused},
		tc{"response bit clear", func(b []uint32) { b[4] &^= responseBit }, ErrUnsupported},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFake(serialA, docKey(t))
			f.Mangle = func(b []uint32) {
				if b[2] == TagGetPrivateKey {
					c.mangle(b)
				}
			}
			k, err := New(f).ReadKey(ctx)
			if !errors.Is(err, c.want) || k != nil {
				t.Fatalf("ReadKey = %x, %v; want %v", k, err, c.want)
			}
			if strings.Contains(err.Error(), "f8dbc7b0") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
	// The serial answer is judged the same way.
	f := NewFake(serialA, docKey(t))
	f.Mangle = func(b []uint32) {
		if b[2] == TagGetBoardSerial {
			b[4] = responseBit | 4
		}
	}
	if _, err := New(f).Serial(ctx); !errors.Is(err, ErrTruncated) {
		t.Fatalf("short serial: %v", err)
	}
}

func itoa(n int) string {
	return string(rune('0'+n/10)) + string(rune('0'+n%10))
}

// R32: the medium moved to another board is refused, and so is a file
// whose serial was edited to match; nothing is written.
func TestR32WrappedFileFromAnotherBoard(t *testing.T) {
	ctx := context.Background()
	a := NewFake(serialA, key(1))
	p := newProvider(t, a)
	if _, err := p.Create(ctx); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(p.Path)

	b := NewFake(serialB, key(2))
	if k, err := (Provider{OTP: New(b), Path: p.Path}).Load(ctx); !errors.Is(err, ErrOtherBoard) || k != nil {
		t.Fatalf("other board: %x, %v", k, err)
	}
	// Same serial (forged or re-used), other OTP key.
	c := NewFake(serialA, key(2))
	if k, err := (Provider{OTP: New(c), Path: p.Path}).Load(ctx); !errors.Is(err, ErrWrongKey) || k != nil {
		t.Fatalf("other OTP key: %x, %v", k, err)
	}
	// The attacker rewrites the serial in the file to board B's and fixes
	// the checksum: the AAD binds the serial, so even the right OTP key
	// (A's) does not open it under B's serial.
	edited := resum(strings.Replace(string(orig), serialAStr, "100000001234abcd", 1))
	if _, err := Unwrap(key(1), edited, "100000001234abcd"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("edited serial: %v", err)
	}
	if got, _ := os.ReadFile(p.Path); !bytes.Equal(got, orig) {
		t.Fatal("a refused load changed the file")
	}
	if a.Writes()+b.Writes()+c.Writes() != 0 {
		t.Fatal("loading wrote the OTP")
	}
}

// resum recomputes the checksum of an edited file (an attacker can).
func resum(s string) []byte {
	b := []byte(s)
	body := b[:len(b)-sumSize]
	sum := sha256.Sum256(body)
	return append(body[:len(body):len(body)], sum[:sumSize]...)
}

// R5, R32: a corrupted wrapped file is one clear error for every flipped
// byte and every truncation, never a key, and nothing is overwritten.
func TestR5CorruptWrappedFile(t *testing.T) {
	ctx := context.Background()
	f := NewFake(serialA, key(3))
	p := newProvider(t, f)
	if _, err := p.Create(ctx); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(p.Path)
	load := func(t *testing.T, content []byte) error {
		t.Helper()
		if err := os.WriteFile(p.Path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := p.Load(ctx)
		if k != nil {
			t.Fatalf("got a key from a damaged file")
		}
		if got, _ := os.ReadFile(p.Path); !bytes.Equal(got, content) {
			t.Fatal("Load changed the file")
		}
		if _, cerr := p.Create(ctx); !errors.Is(cerr, ErrExists) {
			t.Fatalf("Create over a damaged file: %v", cerr)
		}
		if got, _ := os.ReadFile(p.Path); !bytes.Equal(got, content) {
			t.Fatal("Create replaced a damaged file")
		}
		return err
	}
	for i := range orig {
		bad := bytes.Clone(orig)
		bad[i] ^= 0x40
		err := load(t, bad)
		want := ErrCorrupt
		if i == len(wrapMagic) {
			want = ErrVersion
		}
		if !errors.Is(err, want) {
			t.Fatalf("byte %d flipped: %v, want %v", i, err, want)
		}
	}
	for n := 0; n < len(orig); n++ {
		if err := load(t, orig[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut to %d bytes: %v", n, err)
		}
	}
	if err := load(t, append(bytes.Clone(orig), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("one byte appended: %v", err)
	}
	// Damage that keeps the checksum right (an attacker) is the AEAD's:
	// ErrWrongKey.
	bad := bytes.Clone(orig)
	bad[len(bad)-sumSize-1] ^= 1
	if err := load(t, resum(string(bad))); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("sealed byte flipped, checksum fixed: %v", err)
	}
	if f.Reads() == 0 {
		t.Fatal("the AEAD case never consulted the OTP")
	}
}

func TestLoadRefusesOpenModeAndMissingFile(t *testing.T) {
	ctx := context.Background()
	p := newProvider(t, NewFake(serialA, key(4)))
	if _, err := p.Load(ctx); !errors.Is(err, ErrNoWrappedKey) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := p.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.Path, 0o644); err != nil {
		t.Fatal(err)
	}
	if k, err := p.Load(ctx); err == nil || k != nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("group-readable file: %v", err)
	}
}

// R25: Destroy removes the wrapped root key for good (the same file can
// never be loaded again) while the OTP key, which cannot be erased, stays.
func TestR25DestroyWrappedKeyOTPStays(t *testing.T) {
	ctx := context.Background()
	f := NewFake(serialA, key(5))
	p := newProvider(t, f)
	if _, err := p.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("wrapped file still there")
	}
	ents, _ := os.ReadDir(filepath.Dir(p.Path))
	if len(ents) != 0 {
		t.Fatalf("left in the key directory: %v", ents)
	}
	if _, err := p.Load(ctx); !errors.Is(err, ErrNoWrappedKey) {
		t.Fatalf("Load after Destroy: %v", err)
	}
	if err := p.Destroy(ctx); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if !bytes.Equal(f.Key(), key(5)) {
		t.Fatal("the OTP key changed (it cannot be erased)")
	}
	// A provider without a path never reports a wipe as done.
	if err := (Provider{OTP: New(f)}).Destroy(ctx); err == nil {
		t.Fatal("Destroy with no path succeeded")
	}
	if _, err := (Provider{Path: p.Path}).Load(ctx); err == nil {
		t.Fatal("Load with no OTP succeeded")
	}
}

func TestProgramNeedsConfirmation(t *testing.T) {
	ctx := context.Background()
	f := NewFake(serialA, nil)
	o := New(f)
	for _, confirm := range []string{"", "  ", "100000001234abcd", "yes", serialAStr[:15]} {
		if err := o.Program(ctx, key(6), confirm); !errors.Is(err, ErrNotConfirmed) {
			t.Fatalf("confirm %q: %v", confirm, err)
		}
	}
	if _, err := o.Provision(ctx, ""); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("Provision without confirmation: %v", err)
	}
	if f.Writes() != 0 || !allZero(f.Key()) {
		t.Fatal("OTP written without confirmation")
	}
	for _, k := range [][]byte{nil, key(6)[:31], make([]byte, KeySize)} {
		if err := o.Program(ctx, k, serialAStr); !errors.Is(err, ErrBadKey) {
			t.Fatalf("key of %d bytes: %v", len(k), err)
		}
	}
	// The serial as the operator types it (case, spaces) is accepted.
	if err := o.Program(ctx, key(6), " 10000000AD8E94A8\n"); err != nil {
		t.Fatal(err)
	}
	if f.Writes() != 1 || !bytes.Equal(f.Key(), key(6)) {
		t.Fatalf("writes %d key %x", f.Writes(), f.Key())
	}
	got, err := o.ReadKey(ctx)
	if err != nil || !bytes.Equal(got, key(6)) {
		t.Fatalf("ReadKey after Program = %x, %v", got, err)
	}
}

func TestProgramRefusesToChangeAnExistingKey(t *testing.T) {
	ctx := context.Background()
	f := NewFake(serialA, key(0x11))
	o := New(f)
	// 0x33 covers every bit of 0x11: the firmware itself would accept it
	// (bits only go 0 → 1), so the refusal must be ours.
	if err := o.Program(ctx, key(0x33), serialAStr); !errors.Is(err, ErrAlreadyProgrammed) {
		t.Fatalf("other key: %v", err)
	}
	if err := o.Program(ctx, key(0x11), serialAStr); err != nil {
		t.Fatalf("same key again: %v", err)
	}
	if f.Writes() != 0 || !bytes.Equal(f.Key(), key(0x11)) {
		t.Fatalf("OTP written: writes %d key %x", f.Writes(), f.Key())
	}
}

func TestProgramNeverWritesBlind(t *testing.T) {
	ctx := context.Background()
	f := NewFake(serialA, nil)
	f.Mangle = func(b []uint32) {
		if b[2] == TagGetPrivateKey {
			b[0] = 20 // truncated read
		}
	}
	if err := New(f).Program(ctx, key(6), serialAStr); !errors.Is(err, ErrTruncated) {
		t.Fatalf("unreadable OTP: %v", err)
	}
	if f.Writes() != 0 {
		t.Fatal("wrote although the current key could not be read")
	}
	r := NewFake(serialA, nil)
	r.RefuseWrite = true
	if err := New(r).Program(ctx, key(6), serialAStr); !errors.Is(err, ErrRefused) {
		t.Fatalf("write refused: %v", err)
	}
	if !allZero(r.Key()) {
		t.Fatal("refused write changed the OTP")
	}
}

func TestProgramVerifiesReadBack(t *testing.T) {
	ctx := context.Background()
	f := NewFake(serialA, nil)
	written := false
	f.Mangle = func(b []uint32) {
		switch {
		case b[2] == TagSetPrivateKey:
			written = true
		case b[2] == TagGetPrivateKey && written:
			b[7+3] &^= 1 // one bit did not burn
		}
	}
	if err := New(f).Program(ctx, key(0xff), serialAStr); !errors.Is(err, ErrVerify) {
		t.Fatalf("bad read-back: %v", err)
	}
}

func TestProvision(t *testing.T) {
	ctx := context.Background()
	f := NewFake(serialA, nil)
	o := New(f)
	did, err := o.Provision(ctx, serialAStr)
	if err != nil || !did {
		t.Fatalf("blank: %v, %v", did, err)
	}
	k := f.Key()
	if allZero(k) || bytes.Equal(k, key(0)) || f.Writes() != 1 {
		t.Fatalf("programmed %x, writes %d", k, f.Writes())
	}
	did, err = o.Provision(ctx, serialAStr)
	if err != nil || did || f.Writes() != 1 || !bytes.Equal(f.Key(), k) {
		t.Fatalf("second Provision: %v, %v, writes %d", did, err, f.Writes())
	}
	// A key programmed on the production line (rpi-otp-private-key) is used
	// as it is.
	line := NewFake(serialA, docKey(t))
	did, err = New(line).Provision(ctx, serialAStr)
	if err != nil || did || line.Writes() != 0 || !bytes.Equal(line.Key(), docKey(t)) {
		t.Fatalf("pre-programmed: %v, %v", did, err)
	}
	// Two blank boards get different keys.
	g := NewFake(serialB, nil)
	if _, err := New(g).Provision(ctx, "100000001234abcd"); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(g.Key(), k) {
		t.Fatal("two boards got the same random key")
	}
}

// The fake keeps OTP semantics: a write that would clear a bit is refused
// by the "firmware".
func TestFakeRefusesClearingBits(t *testing.T) {
	f := NewFake(serialA, key(0x0f))
	rows := keyToRows(key(0xf0))
	buf := keyRequest(TagSetPrivateKey, rows[:])
	if err := f.Property(buf); err != nil {
		t.Fatal(err)
	}
	if buf[1] != codeError || !bytes.Equal(f.Key(), key(0x0f)) {
		t.Fatalf("code %#x key %x", buf[1], f.Key())
	}
}

func TestWrapArguments(t *testing.T) {
	root := key(8)
	if _, err := Wrap(make([]byte, KeySize), root, serialAStr); !errors.Is(err, ErrBadKey) {
		t.Fatalf("zero OTP key: %v", err)
	}
	if _, err := Wrap(key(1), root[:16], serialAStr); err == nil {
		t.Fatal("short root key wrapped")
	}
	for _, s := range []string{"", strings.Repeat("1", 65), "a b", "a\x00"} {
		if _, err := Wrap(key(1), root, s); err == nil {
			t.Fatalf("serial %q accepted", s)
		}
	}
	w1, _ := Wrap(key(1), root, serialAStr)
	w2, _ := Wrap(key(1), root, serialAStr)
	if bytes.Equal(w1, w2) {
		t.Fatal("two wraps are identical (nonce not random)")
	}
	got, err := Unwrap(key(1), w1, serialAStr)
	if err != nil || !bytes.Equal(got, root) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
}
