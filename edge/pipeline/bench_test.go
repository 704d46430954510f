package pipeline

import (
	"context"
	"fmt"
	"testing"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/source"
)

// benchPipeline measures capture (synthetic) → mask → encode on one encoder
// thread, the work a gateway does per camera with masks. scripts/bench.sh
// sets it beside ffmpeg doing the same (testsrc2 → drawbox → libx264).
func benchPipeline(b *testing.B, w, h int) {
	ctx := context.Background()
	s, err := source.Open(ctx, fmt.Sprintf("test://pattern?width=%d&height=%d&fps=15", w, h), source.Options{Unpaced: true})
	src, _ := s.(source.RawSource)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	m, err := mask.New(testMasks(), mask.Options{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := codec.NewEncoder(codec.EncoderConfig{Width: w, Height: h, FPS: 15, Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := src.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := enc.Encode(m.Apply(f)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fps")
}

func BenchmarkPipeline720p(b *testing.B)  { benchPipeline(b, 1280, 720) }
func BenchmarkPipeline1080p(b *testing.B) { benchPipeline(b, 1920, 1080) }

// BenchmarkHubPublish: publishing to 4 readers, one of them never reading.
func BenchmarkHubPublish(b *testing.B) {
	h := NewHub()
	for range 3 {
		r := h.Subscribe(64)
		go func() {
			for range r.C() {
			}
		}()
	}
	_ = h.Subscribe(1) // a stalled viewer
	au := testAU(true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Publish(au)
	}
	h.Close()
}
