package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

func sealStream(t testing.TB, c Cipher, key []byte, pt []byte, chunk int, writes int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewStreamWriter(&out, c, key, 7, chunk)
	if err != nil {
		t.Fatal(err)
	}
	step := max(1, len(pt)/max(writes, 1))
	for p := pt; len(p) > 0; {
		k := min(step, len(p))
		if n, err := w.Write(p[:k]); err != nil || n != k {
			t.Fatalf("write: %d %v", n, err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Written() != int64(out.Len()) {
		t.Fatalf("Written %d, buffer %d", w.Written(), out.Len())
	}
	return out.Bytes()
}

func openStream(c Cipher, key, sealed []byte) ([]byte, error) {
	r, err := NewStreamReader(bytes.NewReader(sealed), c, key, 7)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// R17 (issue 13): an export is stored as a sealed stream; every length
// round-trips, including the chunk boundaries and the empty stream, and no
// plaintext byte appears in the sealed bytes.
func TestR17StreamRoundTrip(t *testing.T) {
	key := make([]byte, KeySize)
	rand.Read(key)
	const chunk = 64
	for _, c := range []Cipher{AES256GCM, XChaCha20Poly1305} {
		for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 3*chunk + 5} {
			pt := bytes.Repeat([]byte("\x00\x00\x00\x01\x67SPS"), n/8+1)[:n]
			for _, writes := range []int{1, 3, n} {
				sealed := sealStream(t, c, key, pt, chunk, writes)
				chunks := max(1, (n+chunk-1)/chunk)
				if want := n + chunks*(HeaderSize+Overhead); len(sealed) != want {
					t.Fatalf("%s n=%d: sealed %d bytes, want %d", c, n, len(sealed), want)
				}
				if n >= 5 && bytes.Contains(sealed, pt[:5]) {
					t.Fatalf("%s n=%d: plaintext visible in the sealed stream", c, n)
				}
				got, err := openStream(c, key, sealed)
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("%s n=%d writes=%d: %v (%d bytes back)", c, n, writes, err, len(got))
				}
			}
		}
	}
}

// R17: every changed byte, truncation at any point, appended bytes, two
// chunks swapped, a chunk dropped, and the wrong key all fail with ErrAuth,
// and no byte of a chunk is returned before it authenticated.
func TestR17StreamDetectsEveryChange(t *testing.T) {
	key := make([]byte, KeySize)
	rand.Read(key)
	const chunk = 32
	pt := make([]byte, 3*chunk+10)
	rand.Read(pt)
	for _, c := range []Cipher{AES256GCM, XChaCha20Poly1305} {
		sealed := sealStream(t, c, key, pt, chunk, 1)
		cs := HeaderSize + chunk + Overhead
		bad := map[string][]byte{}
		for i := range sealed {
			b := bytes.Clone(sealed)
			b[i] ^= 0x10
			bad["flip"+string(rune(i))] = b
		}
		for i := 0; i < len(sealed); i++ {
			bad["trunc"+string(rune(i))] = sealed[:i]
		}
		bad["append"] = append(bytes.Clone(sealed), 0)
		bad["append chunk"] = append(bytes.Clone(sealed), sealed[:cs]...)
		swapped := bytes.Clone(sealed)
		copy(swapped[:cs], sealed[cs:2*cs])
		copy(swapped[cs:2*cs], sealed[:cs])
		bad["swap"] = swapped
		bad["drop"] = append(bytes.Clone(sealed[:cs]), sealed[2*cs:]...)
		for name, b := range bad {
			got, err := openStream(c, key, b)
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("%s %q: err %v", c, name, err)
			}
			if len(got) > 0 && !bytes.Equal(got, pt[:len(got)]) {
				t.Fatalf("%s %q: returned bytes that are not the plaintext", c, name)
			}
		}
		other := make([]byte, KeySize)
		rand.Read(other)
		if got, err := openStream(c, other, sealed); !errors.Is(err, ErrAuth) || len(got) != 0 {
			t.Fatalf("%s: wrong key: %v, %d bytes", c, err, len(got))
		}
	}
	if _, err := NewStreamWriter(io.Discard, AES256GCM, key, 1, 0); err == nil {
		t.Fatal("chunk size 0 accepted")
	}
	if _, err := NewStreamWriter(io.Discard, AES256GCM, key, 1, MaxChunk); err == nil {
		t.Fatal("chunk size above MaxChunk accepted")
	}
}

// BenchmarkStreamOpen measures opening a sealed export (64 KiB chunks),
// the cost of the integrity pass before a download.
func BenchmarkStreamOpen(b *testing.B) {
	key := make([]byte, KeySize)
	rand.Read(key)
	pt := make([]byte, 16<<20)
	rand.Read(pt)
	for _, c := range []Cipher{AES256GCM, XChaCha20Poly1305} {
		sealed := sealStream(b, c, key, pt, 64<<10, 256)
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			for i := 0; i < b.N; i++ {
				r, _ := NewStreamReader(bytes.NewReader(sealed), c, key, 7)
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
