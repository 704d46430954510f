package web

import (
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/storage"
)

// storedGOPs makes footage as the recorder stores it: ffmpeg's testsrc2
// (a moving, detailed picture) encoded by the project's encoder (openh264,
// 2 s keyframe interval at 15 fps), 60 frames.
func storedGOPs(b *testing.B, w, h int) []storage.Frame {
	b.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		b.Fatal("ffmpeg not installed (scripts/deps.sh)")
	}
	const n = 60
	raw, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
		"testsrc2=size="+strconv.Itoa(w)+"x"+strconv.Itoa(h)+":rate=15", "-frames:v", strconv.Itoa(n), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-").Output()
	if err != nil {
		b.Fatalf("ffmpeg: %v", err)
	}
	enc, err := codec.NewEncoder(codec.EncoderConfig{Width: w, Height: h, FPS: 15, BitrateKbps: playBitrate(w, h, 15), Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	m, err := mask.New(nil, mask.Options{})
	if err != nil {
		b.Fatal(err)
	}
	size := w * h * 3 / 2
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var out []storage.Frame
	for i := 0; (i+1)*size <= len(raw); i++ {
		f, _ := media.NewFrame(w, h)
		copy(f.Y, raw[i*size:])
		copy(f.U, raw[i*size+w*h:])
		copy(f.V, raw[i*size+w*h+w*h/4:])
		au, ok, err := enc.Encode(m.Apply(f).Frame())
		if err != nil {
			b.Fatal(err)
		}
		if ok {
			out = append(out, storage.Frame{Time: t0.Add(time.Duration(i) * time.Second / 15), Key: au.Key, Data: au.Data})
		}
	}
	if len(out) == 0 || !out[0].Key {
		b.Fatal("no stored footage")
	}
	return out
}

// benchPlayback measures one played-back frame: decode + masks + burn-in
// + encode on one thread (the cost of one playback per core). fps/core
// is 1 s divided by ns/op.
func benchPlayback(b *testing.B, w, h int) {
	frames := storedGOPs(b, w, h)
	masks, err := mask.NewSet([]mask.Mask{{Name: "window", Polygon: []mask.Point{{X: 0.05, Y: 0.1}, {X: 0.35, Y: 0.1}, {X: 0.35, Y: 0.45}, {X: 0.05, Y: 0.45}}}})
	if err != nil {
		b.Fatal(err)
	}
	tc, err := newBurnTranscoder(masks, "operator", "g-0123456789abcdef0123", time.Time{}, time.Now, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tc.Close()
	sink := func(storage.Frame) error { return nil }
	period := frames[len(frames)-1].Time.Sub(frames[0].Time) + time.Second/15
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(frames)
		f := frames[k]
		f.Time = f.Time.Add(time.Duration(i/len(frames)) * period)
		if err := tc.frame(f, sink); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if tc.out < b.N-2 {
		b.Fatalf("%d frames in, %d encoded", b.N, tc.out)
	}
	b.ReportMetric(float64(time.Second)/(float64(b.Elapsed())/float64(b.N)), "fps/core")
}

// BenchmarkPlaybackBurn720p and 1080p: the CPU cost of burned-in playback
// (issue 12, R18). make bench prints them.
func BenchmarkPlaybackBurn720p(b *testing.B)  { benchPlayback(b, 1280, 720) }
func BenchmarkPlaybackBurn1080p(b *testing.B) { benchPlayback(b, 1920, 1080) }

// BenchmarkBurnOverlay1080p is the burn-in alone (band + three lines) on a
// 1080p picture, without the codec.
func BenchmarkBurnOverlay1080p(b *testing.B) {
	f, _ := media.NewFrame(1920, 1080)
	var br burner
	for i := 0; i < b.N; i++ {
		br.draw(f, "operator g-0123456789abcdef0123", "rec 2026-01-02 03:04:05 UTC", "now 2026-01-02 03:04:05 UTC")
	}
}
