package ring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
		if !bytes.Equal(g.Marshal()[:encSize], in[:encSize]) {
			t.Fatal("re-marshal differs")
		}
	})
}
