package rpiotp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
)

func wordsOf(b []byte) []uint32 {
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w
}

func bytesOf(w []uint32) []byte {
	var b []byte
	for _, x := range w {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

// R32: whatever the mailbox answers, the parser returns either the rows of
// a well-formed answer or one of the named errors, and never panics.
func FuzzParseResponse(f *testing.F) {
	f.Add(bytesOf(docAnswer))
	f.Add(bytesOf(docAnswer[:8]))
	refused := append([]uint32(nil), docAnswer...)
	refused[1] = codeError
	f.Add(bytesOf(refused))
	serial := newRequest(TagGetBoardSerial, []uint32{0xad8e94a8, 0x10000000})
	serial[1], serial[4] = codeSuccess, responseBit|8
	f.Add(bytesOf(serial))
	f.Fuzz(func(t *testing.T, in []byte) {
		named := func(err error) bool {
			return errors.Is(err, ErrTruncated) || errors.Is(err, ErrRefused) || errors.Is(err, ErrUnsupported)
		}
		w := wordsOf(in)
		rows, err := parseKeyResponse(w, TagGetPrivateKey)
		if err != nil && !named(err) {
			t.Fatalf("unnamed error %v", err)
		}
		if err == nil {
			if w[0] < 64 || uint64(w[0]) > 4*uint64(len(w)) || w[1] != codeSuccess || w[2] != TagGetPrivateKey ||
				w[3] != 40 || w[4] != responseBit|40 || w[5] != 0 || w[6] != 8 || w[15] != endTag {
				t.Fatalf("accepted a malformed answer %#x", w)
			}
			for i := range rows {
				if rows[i] != w[7+i] {
					t.Fatalf("row %d = %#x, answer has %#x", i, rows[i], w[7+i])
				}
			}
		}
		v, err := parseResponse(w, TagGetBoardSerial, 8, 8)
		if err != nil && !named(err) {
			t.Fatalf("unnamed error %v", err)
		}
		if err == nil && (len(v) != 2 || w[2] != TagGetBoardSerial || w[4] != responseBit|8) {
			t.Fatalf("accepted a malformed serial answer %#x", w)
		}
		// End to end: the same words as the fake's answer to ReadKey.
		fk := NewFake(serialA, key(1))
		fk.Mangle = func(b []uint32) { clear(b); copy(b, w) }
		k, err := New(fk).ReadKey(context.Background())
		if err == nil && (len(k) != KeySize || allZero(k)) {
			t.Fatalf("ReadKey returned %x", k)
		}
		if err != nil && !named(err) && !errors.Is(err, ErrNotProgrammed) {
			t.Fatalf("ReadKey: unnamed error %v", err)
		}
	})
}

// R5, R32: the wrapped-file parser never panics, reports one of its named
// errors, and nothing but a genuine wrap under the board's OTP key and
// serial ever unwraps.
func FuzzParseWrapped(f *testing.F) {
	otp, root := key(0x5a), key(0xa5)
	good, err := Wrap(otp, root, serialAStr)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:40])
	other, _ := Wrap(key(0x11), root, "100000001234abcd")
	f.Add(other)
	f.Fuzz(func(t *testing.T, in []byte) {
		info, err := ParseWrapped(in)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Fatalf("ParseWrapped: unnamed error %v", err)
		}
		if err == nil {
			if info.Version != 1 || !validSerial(info.Serial) ||
				len(in) != len(wrapMagic)+2+len(info.Serial)+nonceSize+sealedSize+sumSize {
				t.Fatalf("accepted %+v from %d bytes", info, len(in))
			}
		}
		k, err := Unwrap(otp, in, serialAStr)
		if err == nil && !bytes.Equal(k, root) {
			t.Fatalf("unwrapped a key that was never wrapped: %x", k)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) &&
			!errors.Is(err, ErrOtherBoard) && !errors.Is(err, ErrWrongKey) {
			t.Fatalf("Unwrap: unnamed error %v", err)
		}
	})
}
