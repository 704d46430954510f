package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func newSeg(t testing.TB, c Cipher, id uint64) (*Segment, []byte) {
	k := make([]byte, KeySize)
	rand.Read(k)
	s, err := NewSegment(c, k, id)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

// R5: round trip, and every single-bit change, reorder (other index),
// splice (other segment, other key) and length change is refused.
func TestR5SealDetectsEveryChange(t *testing.T) {
	for _, c := range []Cipher{AES256GCM, XChaCha20Poly1305} {
		t.Run(c.String(), func(t *testing.T) {
			s, k := newSeg(t, c, 9)
			pt := bytes.Repeat([]byte("frame"), 50)
			raw := s.Seal(nil, Header{Index: 3, LSN: 4096, Last: true}, pt)
			got, h, err := s.Open(nil, 3, raw)
			if err != nil || !bytes.Equal(got, pt) || !h.Last || h.LSN != 4096 || h.Segment != 9 {
				t.Fatalf("round trip: %v %+v", err, h)
			}
			for i := 0; i < len(raw); i++ {
				for bit := 0; bit < 8; bit++ {
					b := bytes.Clone(raw)
					b[i] ^= 1 << bit
					if _, _, err := s.Open(nil, 3, b); err == nil {
						t.Fatalf("bit %d of byte %d flipped and still opened", bit, i)
					}
				}
			}
			if _, _, err := s.Open(nil, 4, raw); !errors.Is(err, ErrAuth) {
				t.Fatalf("reorder: %v", err)
			}
			other, _ := NewSegment(c, k, 10)
			if _, _, err := other.Open(nil, 3, raw); !errors.Is(err, ErrAuth) {
				t.Fatalf("splice into another segment id: %v", err)
			}
			s2, _ := newSeg(t, c, 9)
			if _, _, err := s2.Open(nil, 3, raw); !errors.Is(err, ErrAuth) {
				t.Fatalf("other key: %v", err)
			}
			if _, _, err := s.Open(nil, 3, raw[:len(raw)-1]); err == nil {
				t.Fatal("truncated chunk opened")
			}
			// Clearing the last flag (and fixing the header CRC) still fails.
			b := bytes.Clone(raw)
			h.Last = false
			h.Length = uint32(len(raw) - HeaderSize)
			h.Marshal(b)
			if _, _, err := s.Open(nil, 3, b); !errors.Is(err, ErrAuth) {
				t.Fatalf("last flag removed: %v", err)
			}
		})
	}
}

func TestParseCipher(t *testing.T) {
	for name, want := range map[string]Cipher{"aes-256-gcm": AES256GCM, "xchacha20-poly1305": XChaCha20Poly1305} {
		if c, err := ParseCipher(name); err != nil || c != want || c.String() != name {
			t.Fatalf("%s: %v %v", name, c, err)
		}
	}
	auto, _ := ParseCipher("auto")
	if HasAESHardware() != (auto == AES256GCM) {
		t.Fatalf("auto chose %v with AES hardware %v", auto, HasAESHardware())
	}
	if _, err := ParseCipher("des"); !errors.Is(err, ErrCipher) {
		t.Fatal(err)
	}
}

// FuzzChunkHeader: any input either fails to parse or re-marshals to the
// same bytes; Open never panics and never accepts a forged chunk.
func FuzzChunkHeader(f *testing.F) {
	b := make([]byte, HeaderSize)
	Header{Segment: 1, Index: 2, Length: 100, LSN: 4096, Last: true}.Marshal(b)
	f.Add(b)
	PadHeader(77, 500).Marshal(b)
	f.Add(bytes.Clone(b))
	f.Add([]byte("eRcK"))
	s, _ := newSeg(f, XChaCha20Poly1305, 1)
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ParseHeader(in)
		if err != nil {
			return
		}
		out := make([]byte, HeaderSize)
		h.Marshal(out)
		if !bytes.Equal(out, in[:HeaderSize]) {
			t.Fatalf("re-marshal differs")
		}
		if _, _, err := s.Open(nil, h.Index, in); err == nil {
			t.Fatalf("forged chunk authenticated")
		}
	})
}
