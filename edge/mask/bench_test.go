package mask

import (
	"testing"

	"github.com/edgerec/edgerec/edge/media"
)

// Compare BenchmarkFill1080p25 with BenchmarkCopy1080p: both report the
// bytes of a whole 1920×1080 I420 frame per op, so the ns/op ratio is the
// cost of masking 25% of a frame relative to copying the frame once
// (target: fill ≤ 2× copy).

func bench1080(b *testing.B, ms ...Mask) {
	f, _ := media.NewFrame(1920, 1080)
	for i := range f.Y {
		f.Y[i] = byte(i)
	}
	m, err := New(ms, Options{})
	if err != nil {
		b.Fatal(err)
	}
	m.Apply(f) // rasterize outside the timed loop
	b.SetBytes(int64(len(f.Y) + len(f.U) + len(f.V)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Apply(f)
	}
}

// A centred rectangle of half the width and half the height: 25% of the
// picture.
func BenchmarkFill1080p25(b *testing.B) {
	bench1080(b, rect("quarter", 0.25, 0.25, 0.75, 0.75))
}

func BenchmarkPixelate1080p25(b *testing.B) {
	m := rect("quarter", 0.25, 0.25, 0.75, 0.75)
	m.Style = StylePixelate
	bench1080(b, m)
}

// BenchmarkCopy1080p copies a whole 1920×1080 I420 frame (3 110 400 bytes).
func BenchmarkCopy1080p(b *testing.B) {
	src, _ := media.NewFrame(1920, 1080)
	dst, _ := media.NewFrame(1920, 1080)
	b.SetBytes(int64(len(src.Y) + len(src.U) + len(src.V)))
	b.ResetTimer()
	for b.Loop() {
		copy(dst.Y, src.Y)
		copy(dst.U, src.U)
		copy(dst.V, src.V)
	}
}
