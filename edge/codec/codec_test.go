package codec

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
)

func needFFmpeg(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg not installed: run scripts/deps.sh (make test does)")
	}
	return p
}

func patternFrames(t testing.TB, w, h, n int) []*media.Frame {
	t.Helper()
	ctx := context.Background()
	s, err := source.Open(ctx, fmt.Sprintf("test://pattern?width=%d&height=%d&fps=15", w, h), source.Options{Unpaced: true})
	src, _ := s.(source.RawSource)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []*media.Frame
	for range n {
		f, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func noMasks(t testing.TB) *mask.Masker {
	t.Helper()
	m, err := mask.New(nil, mask.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func psnr(a, b []byte) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
}

// TestEncodeDecodeRoundTrip: our encoder's output decodes with our decoder
// to pictures close to the input, keyframes carry SPS/PPS in band at the
// configured interval.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	frames := patternFrames(t, 640, 360, 40)
	enc, err := NewEncoder(EncoderConfig{Width: 640, Height: 360, FPS: 15, BitrateKbps: 2000, KeyframeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	m := noMasks(t)
	var keys []int
	decoded := 0
	for i, f := range frames {
		in := f.Clone()
		au, ok, err := enc.Encode(m.Apply(f).Frame())
		if err != nil || !ok {
			t.Fatalf("frame %d: ok=%v err=%v", i, ok, err)
		}
		if au.Key {
			keys = append(keys, i)
			if !HasParameterSets(au.Data) {
				t.Fatalf("keyframe %d without SPS/PPS in band: NAL types %v", i, NALTypes(au.Data))
			}
		}
		pic, err := dec.Decode(au.Data)
		if err != nil {
			t.Fatalf("decode %d: %v", i, err)
		}
		if pic == nil {
			continue
		}
		decoded++
		if pic.Width != 640 || pic.Height != 360 {
			t.Fatalf("decoded size %dx%d", pic.Width, pic.Height)
		}
		if p := psnr(in.Y, pic.Y); p < 28 {
			t.Errorf("frame %d: luma PSNR %.1f dB < 28", i, p)
		}
	}
	if decoded < len(frames)-1 {
		t.Fatalf("decoded %d of %d", decoded, len(frames))
	}
	if len(keys) < 3 || keys[0] != 0 || keys[1] != 15 {
		t.Fatalf("keyframes at %v, want every 15 frames from 0", keys)
	}
}

// TestDecodeFFmpegStream: the decoder reads an x264 stream made by ffmpeg
// (what real cameras send) and agrees with ffmpeg's own decode.
func TestDecodeFFmpegStream(t *testing.T) {
	ff := needFFmpeg(t)
	dir := t.TempDir()
	h264 := filepath.Join(dir, "in.h264")
	yuv := filepath.Join(dir, "ref.yuv")
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, ff, append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	run("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15", "-frames:v", "30", "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "10", "-pix_fmt", "yuv420p", "-bsf:v", "h264_metadata=aud=insert", h264)
	run("-i", h264, "-f", "rawvideo", "-pix_fmt", "yuv420p", yuv)
	stream, err := os.ReadFile(h264)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(yuv)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var pics []*media.Frame
	for _, au := range splitOnAUD(stream) {
		pic, err := dec.Decode(au)
		if err != nil {
			t.Fatal(err)
		}
		if pic != nil {
			pics = append(pics, pic)
		}
	}
	if pic, _ := dec.Flush(); pic != nil {
		pics = append(pics, pic)
	}
	size := 320 * 240 * 3 / 2
	if len(pics) != 30 || len(ref) != 30*size {
		t.Fatalf("decoded %d pictures, ffmpeg %d", len(pics), len(ref)/size)
	}
	for i, p := range pics {
		got := append(append(append([]byte{}, p.Y...), p.U...), p.V...)
		if !bytes.Equal(got, ref[i*size:(i+1)*size]) {
			t.Fatalf("picture %d differs from ffmpeg's decode (PSNR %.1f dB)", i, psnr(got, ref[i*size:(i+1)*size]))
		}
	}
}

// TestFFmpegDecodesOurStream: what we record is standard H.264 that ffmpeg
// plays.
func TestFFmpegDecodesOurStream(t *testing.T) {
	ff := needFFmpeg(t)
	frames := patternFrames(t, 320, 240, 20)
	enc, err := NewEncoder(EncoderConfig{Width: 320, Height: 240, FPS: 15})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	m := noMasks(t)
	var stream bytes.Buffer
	for _, f := range frames {
		au, ok, err := enc.Encode(m.Apply(f).Frame())
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		stream.Write(au.Data)
	}
	path := filepath.Join(t.TempDir(), "ours.h264")
	if err := os.WriteFile(path, stream.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "yuv420p", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	if n := len(out) / (320 * 240 * 3 / 2); n != 20 {
		t.Fatalf("ffmpeg decoded %d frames, want 20", n)
	}
}

// TestDecodeGarbage: random bytes give an error or nothing, never a crash.
func TestDecodeGarbage(t *testing.T) {
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for i := range 50 {
		b := bytes.Repeat([]byte{byte(i), 0, 0, 1, byte(i * 7), 0xff}, 20)
		if pic, err := dec.Decode(b); err == nil && pic != nil && (pic.Width <= 0 || pic.Height <= 0) {
			t.Fatalf("garbage decoded to %dx%d", pic.Width, pic.Height)
		}
	}
}

func TestEncoderRejectsWrongSize(t *testing.T) {
	enc, err := NewEncoder(EncoderConfig{Width: 320, Height: 240, FPS: 15})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	f := patternFrames(t, 640, 360, 1)[0]
	if _, _, err := enc.Encode(noMasks(t).Apply(f).Frame()); err == nil {
		t.Fatal("encoded a 640x360 picture with a 320x240 encoder")
	}
	if _, err := NewEncoder(EncoderConfig{Width: 321, Height: 240, FPS: 15}); err == nil {
		t.Fatal("odd width accepted")
	}
}

func splitOnAUD(b []byte) [][]byte {
	var aus [][]byte
	var cur []byte
	for _, n := range SplitAnnexB(b) {
		if n[0]&0x1f == NALAUD && len(cur) > 0 {
			aus = append(aus, cur)
			cur = nil
		}
		cur = append(append(cur, 0, 0, 0, 1), n...)
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

func TestSplitAnnexB(t *testing.T) {
	b := []byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5}
	units := SplitAnnexB(b)
	if len(units) != 3 || !bytes.Equal(units[0], []byte{0x67, 1, 2}) || !bytes.Equal(units[1], []byte{0x68, 3}) || !bytes.Equal(units[2], []byte{0x65, 4, 5}) {
		t.Fatalf("got %x", units)
	}
	if !IsKeyframe(b) || !HasParameterSets(b) {
		t.Fatal("keyframe with SPS/PPS not recognized")
	}
	if IsKeyframe([]byte{0, 0, 1, 0x41, 9}) {
		t.Fatal("P slice taken for a keyframe")
	}
}

// FuzzSplitAnnexB: never panics; units never contain a start code and
// together are no longer than the input.
func FuzzSplitAnnexB(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3})
	f.Add([]byte{0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		for _, u := range SplitAnnexB(b) {
			if len(u) == 0 {
				t.Fatal("empty unit")
			}
			if bytes.Contains(u, []byte{0, 0, 1}) {
				t.Fatalf("unit %x contains a start code", u)
			}
			total += len(u)
		}
		if total > len(b) {
			t.Fatal("units longer than input")
		}
		_ = IsKeyframe(b)
	})
}

func benchEncode(b *testing.B, w, h int) {
	frames := patternFrames(b, w, h, 30)
	enc, err := NewEncoder(EncoderConfig{Width: w, Height: h, FPS: 15, BitrateKbps: 2000, Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	m := noMasks(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := enc.Encode(m.Apply(frames[i%len(frames)]).Frame()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fps")
}

// BenchmarkEncode720p: openh264 encode on one thread (fps reported).
func BenchmarkEncode720p(b *testing.B) { benchEncode(b, 1280, 720) }

// BenchmarkEncode1080p: openh264 encode on one thread (fps reported).
func BenchmarkEncode1080p(b *testing.B) { benchEncode(b, 1920, 1080) }

// Issue 14: DecodeInto writes into the caller's frame when it has the
// picture's size (no per-picture allocation), and NextKeyframe says in
// advance which picture Encode codes as an IDR (every KeyframeInterval and
// after ForceKeyframe).
func TestDecodeIntoReusesFrameAndNextKeyframe(t *testing.T) {
	frames := patternFrames(t, 320, 240, 20)
	enc, err := NewEncoder(EncoderConfig{Width: 320, Height: 240, FPS: 10, KeyframeInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	m := noMasks(t)
	dst, _ := media.NewFrame(320, 240)
	reused := 0
	for i, f := range frames {
		if i == 7 {
			enc.ForceKeyframe()
		}
		want := enc.NextKeyframe()
		au, ok, err := enc.Encode(m.Apply(f).Frame())
		if err != nil || !ok {
			t.Fatalf("frame %d: ok=%v err=%v", i, ok, err)
		}
		if au.Key != want {
			t.Fatalf("frame %d: NextKeyframe said %v, Encode made key=%v", i, want, au.Key)
		}
		if wantKey := i == 0 || i == 5 || i == 7 || i == 12 || i == 17; au.Key != wantKey {
			t.Fatalf("frame %d: key=%v, want %v", i, au.Key, wantKey)
		}
		pic, err := dec.DecodeInto(au.Data, dst)
		if err != nil {
			t.Fatal(err)
		}
		if pic == dst {
			reused++
		}
	}
	if reused < len(frames)-1 {
		t.Fatalf("DecodeInto reused the caller's frame %d of %d times", reused, len(frames))
	}
	small, _ := media.NewFrame(16, 16)
	au, _, _ := enc.Encode(m.Apply(frames[0].Clone()).Frame())
	if pic, err := dec.DecodeInto(au.Data, small); err != nil || pic == small || pic == nil || pic.Width != 320 {
		t.Fatalf("a frame of the wrong size must not be written into (pic %v, err %v)", pic == small, err)
	}
}
