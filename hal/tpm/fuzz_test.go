package tpm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

// R32: the descriptor parser takes whatever is in the data directory. It
// never panics, accepts only canonical encodings (what it accepts
// re-encodes to the same bytes) and reports everything else as
// ErrCorruptDescriptor. Kept corpus: testdata/fuzz/FuzzParseDescriptor.
func FuzzParseDescriptor(f *testing.F) {
	for _, d := range []Descriptor{validDescriptor(), validPCRDescriptor()} {
		b, err := d.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b[:len(b)-sumSize], true)
	}
	f.Add([]byte{}, false)
	f.Add([]byte(descMagic), true)
	// resum: b is a body and gets a correct checksum, so the fuzzer
	// explores the structure behind the checksum too.
	f.Fuzz(func(t *testing.T, b []byte, resum bool) {
		if resum {
			sum := sha256.Sum256(b)
			b = append(bytes.Clone(b), sum[:sumSize]...)
		}
		d, err := ParseDescriptor(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptDescriptor) {
				t.Fatalf("error %v is not ErrCorruptDescriptor", err)
			}
			return
		}
		again, err := d.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed descriptor does not marshal: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in %x\nout %x", b, again)
		}
	})
}
