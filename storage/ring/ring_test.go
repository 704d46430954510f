package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerec/edgerec/storage/seal"
)

func TestPlanAndHeader(t *testing.T) {
	if _, err := Plan(MinSize-1, 0); !errors.Is(err, ErrTooSmall) {
		t.Fatal(err)
	}
	h, err := Plan(64<<20, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.Cipher = seal.XChaCha20Poly1305
	h.RingID[0] = 7
	b := h.Marshal()
	g, err := ParseHeader(b)
	if err != nil || g != h {
		t.Fatalf("%+v %v", g, err)
	}
	for i := 0; i < 124; i++ {
		c := bytes.Clone(b)
		c[i] ^= 1
		if _, err := ParseHeader(c); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	p := filepath.Join(t.TempDir(), "ring")
	if _, err := Create(p, h); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(p, h); !errors.Is(err, ErrExists) {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Size() != h.Size || st.Mode().Perm() != 0o600 {
		t.Fatalf("size %d mode %v", st.Size(), st.Mode())
	}
	r, err := Open(p, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Lap arithmetic.
	lap := uint64(h.DataSize)
	if r.Pos(lap+5) != h.DataOff+5 || r.Room(lap-3) != 3 {
		t.Fatal("lap mapping")
	}
	if err := r.Write(lap-3, []byte("abcd")); err == nil {
		t.Fatal("write across the lap end")
	}
}

func FuzzRingHeader(f *testing.F) {
	h, _ := Plan(8<<20, 0)
	h.Cipher = seal.AES256GCM
	f.Add(h.Marshal())
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, in []byte) {
		g, err := ParseHeader(in)
		if err != nil {
			return
		}
		if binary.LittleEndian.Uint32(in[16:]) == 1 {
			// A version 1 header is rewritten as version 2 with the
			// file provider; everything else must survive.
			g2, err := ParseHeader(g.Marshal())
			if err != nil || g2 != g || g.Provider != ProviderFile {
				t.Fatalf("v1 header does not survive a v2 round trip: %v", err)
			}
			return
		}
		if !bytes.Equal(g.Marshal()[:encSize], in[:encSize]) {
			t.Fatal("re-marshal differs")
		}
	})
}

// v1Header encodes h the way firmware before issue 13 did.
func v1Header(h Header) []byte {
	b := h.Marshal()
	binary.LittleEndian.PutUint32(b[16:], 1)
	clear(b[120:128])
	binary.LittleEndian.PutUint32(b[120:], crc32.Checksum(b[:120], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// Issue 13: the key provider is recorded in the header; a version 1 header
// (before providers) means the file provider; an unknown provider is one
// clear error.
func TestHeaderProvider(t *testing.T) {
	h, _ := Plan(8<<20, 0)
	h.Cipher = seal.XChaCha20Poly1305
	for _, p := range []Provider{ProviderFile, ProviderTPM2, ProviderRPiOTP} {
		h.Provider = p
		g, err := ParseHeader(h.Marshal())
		if err != nil || g.Provider != p {
			t.Fatalf("%v: got %v, %v", p, g.Provider, err)
		}
		if q, err := ParseProvider(p.String()); err != nil || q != p {
			t.Fatalf("ParseProvider(%q) = %v, %v", p.String(), q, err)
		}
	}
	h.Provider = ProviderTPM2
	g, err := ParseHeader(v1Header(h))
	if err != nil || g.Provider != ProviderFile {
		t.Fatalf("v1 header: provider %v, %v", g.Provider, err)
	}
	b := h.Marshal()
	binary.LittleEndian.PutUint32(b[120:], 9)
	binary.LittleEndian.PutUint32(b[124:], crc32.Checksum(b[:124], crc32.MakeTable(crc32.Castagnoli)))
	if _, err := ParseHeader(b); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "unknown key provider 9") {
		t.Fatalf("unknown provider: %v", err)
	}
	if _, err := ParseProvider("hsm"); err == nil {
		t.Fatal("ParseProvider accepted hsm")
	}
}
