package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
)

// encodeClip encodes frames pictures of the test pattern at w×h with a
// keyframe every keyEvery (Annex-B access units, IDRs carry SPS/PPS).
func encodeClip(t testing.TB, w, h, frames int, keyEvery time.Duration) []media.AccessUnit {
	t.Helper()
	s, err := source.Open(context.Background(), fmt.Sprintf("test://pattern?width=%d&height=%d&fps=15", w, h), source.Options{Unpaced: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enc, err := codec.NewEncoder(codec.EncoderConfig{Width: w, Height: h, FPS: 15, KeyframeInterval: keyEvery, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	none, err := mask.New(nil, mask.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []media.AccessUnit
	for len(out) < frames {
		f, err := s.(source.RawSource).Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		au, ok, err := enc.Encode(none.Apply(f).Frame())
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, media.AccessUnit{Data: au.Data, Key: au.Key})
		}
	}
	if !out[0].Key {
		t.Fatal("clip does not start with a keyframe")
	}
	return out
}

// encodeClipX264 encodes frames pictures of ffmpeg's testsrc2 at w×h with
// x264 and a keyframe only every gop pictures (no scene-cut keyframes):
// a camera with long GOPs, which openh264 will not produce.
func encodeClipX264(t testing.TB, w, h, frames, gop int) []media.AccessUnit {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg not installed (scripts/deps.sh)")
	}
	path := filepath.Join(t.TempDir(), "clip.h264")
	out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=15", w, h),
		"-frames:v", strconv.Itoa(frames), "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-bf", "0",
		"-g", strconv.Itoa(gop), "-keyint_min", strconv.Itoa(gop), "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-bsf:v", "h264_metadata=aud=insert", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	stream, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var aus []media.AccessUnit
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			aus = append(aus, media.AccessUnit{Data: cur, Key: codec.IsKeyframe(cur)})
		}
		cur = nil
	}
	for _, n := range codec.SplitAnnexB(stream) {
		if n[0]&0x1f == codec.NALAUD {
			flush()
			continue
		}
		cur = append(append(cur, 0, 0, 0, 1), n...)
	}
	flush()
	if len(aus) != frames || !aus[0].Key {
		t.Fatalf("x264 clip: %d units (want %d), first key %v", len(aus), frames, len(aus) > 0 && aus[0].Key)
	}
	return aus
}

// replaySource is an IP camera replaying pre-encoded access units at fps
// (times speed, with camera timestamps at fps), through a bounded queue
// that drops up to the next keyframe when the pipeline does not read in
// time and counts every unit lost — what the RTSP source does, without
// the network and without an encoder in the test's CPU budget.
type replaySource struct {
	info    media.StreamInfo
	aus     chan media.AccessUnit
	dropped atomic.Uint64
	offered atomic.Uint64
	done    chan struct{}
	cancel  context.CancelFunc
}

// newReplay plays clip loops times and then ends the stream; speed 0 plays
// it as fast as the camera reads, losing nothing.
func newReplay(clip []media.AccessUnit, w, h int, speed float64, loops int) *replaySource {
	ctx, cancel := context.WithCancel(context.Background())
	r := &replaySource{info: media.StreamInfo{Codec: "h264", Width: w, Height: h, FPS: 15},
		aus: make(chan media.AccessUnit, 128), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(r.done)
		start := time.Now()
		interval := time.Second / 15
		needKey := false
		unpaced := speed <= 0
		if unpaced {
			speed = 1e9 // no waiting; timestamps stay at 15 fps
		}
		n := 0
		for l := 0; l < loops; l++ {
			for _, au := range clip {
				due := start.Add(time.Duration(float64(n) * float64(interval) / speed))
				if d := time.Until(due); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				}
				au.PTS = time.Duration(n) * interval
				au.Wall = start.Add(au.PTS)
				n++
				r.offered.Add(1)
				if unpaced { // lossless: wait for the reader
					select {
					case r.aus <- au:
					case <-ctx.Done():
						return
					}
					continue
				}
				if needKey && !au.Key {
					r.dropped.Add(1)
					continue
				}
				select {
				case r.aus <- au:
					needKey = false
				default:
					r.dropped.Add(1)
					needKey = true
				}
			}
		}
	}()
	return r
}

func (r *replaySource) Info() media.StreamInfo { return r.info }
func (r *replaySource) Dropped() uint64        { return r.dropped.Load() }
func (r *replaySource) Close() error           { r.cancel(); return nil }
func (r *replaySource) ReadAU(ctx context.Context) (media.AccessUnit, error) {
	select {
	case au := <-r.aus:
		return au, nil
	default:
	}
	select {
	case au := <-r.aus:
		return au, nil
	case <-r.done:
		select {
		case au := <-r.aus:
			return au, nil
		default:
		}
		return media.AccessUnit{}, errors.New("replay ended")
	case <-ctx.Done():
		return media.AccessUnit{}, ctx.Err()
	}
}

// openOnce returns an Opener that hands out src the first time and fails
// afterwards (a camera that went away after its stream).
func openOnce(src source.Source) Opener {
	var used atomic.Bool
	return func(ctx context.Context, url string, o source.Options) (source.Source, error) {
		if used.Swap(true) {
			return nil, errors.New("gone")
		}
		return src, nil
	}
}

// drain counts what a hub reader receives until its channel closes.
type drain struct {
	n, keys, bytes, maxAU atomic.Int64
	done                  chan struct{}
}

func drainReader(r *Reader, each func(media.AccessUnit)) *drain {
	d := &drain{done: make(chan struct{})}
	go func() {
		defer close(d.done)
		for v := range r.C() {
			au := v.AU()
			d.n.Add(1)
			d.bytes.Add(int64(len(au.Data)))
			if au.Key {
				d.keys.Add(1)
			}
			if int64(len(au.Data)) > d.maxAU.Load() {
				d.maxAU.Store(int64(len(au.Data)))
			}
			if each != nil {
				each(au)
			}
		}
	}()
	return d
}
