package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

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
		if _, _, err := enc.Encode(m.Apply(f).Frame()); err != nil {
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
		h.Publish(passthrough(au))
	}
	h.Close()
}

// BenchmarkMaskedCameraAllocs: Go heap allocated per picture by a masked
// camera (decode → queue → mask → encode → hub) per access unit of a 640x360
// x264 stream (2 s GOPs) at 60 fps, nothing dropped. Numbers to read (issue 14): compare B/picture
// with picture-bytes (one I420 picture).
//
//	go test -run '^$' -bench MaskedCameraAllocs -benchtime 1x ./edge/pipeline
func BenchmarkMaskedCameraAllocs(b *testing.B) {
	clip := encodeClipX264(b, 640, 360, 150, 30)
	masks := []mask.Mask{{Name: "m", Polygon: []mask.Point{{X: 0, Y: 0}, {X: 0.5, Y: 0}, {X: 0.5, Y: 0.5}, {X: 0, Y: 0.5}}}}
	var pictures, bytes, mallocs uint64
	for i := 0; i < b.N; i++ {
		src := newReplay(clip, 640, 360, 4, 2) // 60 fps: the encoder keeps up, nothing is dropped
		cam, err := NewCamera(CameraConfig{ID: "a", Source: "rtsp://camera.invalid/", Masks: mustSet(masks)},
			Deps{Open: openOnce(src), MinBackoff: time.Hour, MaxBackoff: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		got := drainReader(cam.Hub().Subscribe(4096), nil)
		ctx, cancel := context.WithCancel(context.Background())
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		done := make(chan error, 1)
		go func() { done <- cam.Run(ctx) }()
		<-src.done
		for len(src.aus) > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		runtime.ReadMemStats(&m1)
		cancel()
		<-done
		<-got.done
		if src.Dropped() != 0 || uint64(got.n.Load()) != src.offered.Load() {
			b.Fatalf("%d of %d units kept (source lost %d): measure on a quieter box", got.n.Load(), src.offered.Load(), src.Dropped())
		}
		pictures += src.offered.Load()
		bytes += m1.TotalAlloc - m0.TotalAlloc
		mallocs += m1.Mallocs - m0.Mallocs
	}
	b.ReportMetric(float64(bytes)/float64(pictures), "B/picture")
	b.ReportMetric(float64(mallocs)/float64(pictures), "allocs/picture")
	b.ReportMetric(640*360*3/2, "picture-bytes")
}
