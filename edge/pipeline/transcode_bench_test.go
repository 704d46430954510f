package pipeline

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
)

// BenchmarkTranscode720p: the masked RTSP path without the network —
// decode (x264 baseline from ffmpeg) → 2 fill masks covering 25% → encode
// on one thread. Run with -cpuprofile to see where the time goes:
//
//	go test -run '^$' -bench Transcode720p -cpuprofile /tmp/cpu.out ./edge/pipeline
//	go tool pprof -top -cum /tmp/cpu.out | grep -E 'Decode|Apply|Encode'
func BenchmarkTranscode720p(b *testing.B) {
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		b.Fatal("ffmpeg not installed (scripts/deps.sh)")
	}
	path := filepath.Join(b.TempDir(), "in.h264")
	out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=15",
		"-frames:v", "60", "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-bf", "0", "-g", "30",
		"-pix_fmt", "yuv420p", "-bsf:v", "h264_metadata=aud=insert", path).CombinedOutput()
	if err != nil {
		b.Fatalf("ffmpeg: %v %s", err, out)
	}
	stream, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var aus [][]byte
	var cur []byte
	for _, n := range codec.SplitAnnexB(stream) {
		if n[0]&0x1f == codec.NALAUD && len(cur) > 0 {
			aus = append(aus, cur)
			cur = nil
		}
		cur = append(append(cur, 0, 0, 0, 1), n...)
	}
	aus = append(aus, cur)
	masks := []mask.Mask{
		{Name: "top", Polygon: []mask.Point{{X: 0, Y: 0}, {X: 0.5, Y: 0}, {X: 0.5, Y: 0.25}, {X: 0, Y: 0.25}}},
		{Name: "bottom", Polygon: []mask.Point{{X: 0.5, Y: 0.75}, {X: 1, Y: 0.75}, {X: 1, Y: 1}, {X: 0.5, Y: 1}}},
	}
	m, err := mask.New(masks, mask.Options{})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := codec.NewEncoder(codec.EncoderConfig{Width: 1280, Height: 720, FPS: 15, Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	var dec *codec.Decoder
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(aus)
		if k == 0 {
			if dec != nil {
				dec.Close()
			}
			if dec, err = codec.NewDecoder(); err != nil {
				b.Fatal(err)
			}
		}
		pic, err := dec.Decode(aus[k])
		if err != nil {
			b.Fatal(err)
		}
		if pic == nil {
			continue
		}
		if _, _, err := enc.Encode(m.Apply(pic).Frame()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	dec.Close()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fps")
}
