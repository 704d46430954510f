package record

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/pkg/codecs/h264"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline/pipelinetest"
	"github.com/edgerec/edgerec/edge/source"
	"github.com/edgerec/edgerec/storage"
)

// encodeClip encodes frames pictures of the test pattern at w×h (openh264,
// a keyframe every second).
func encodeClip(t *testing.T, w, h, frames int) []media.AccessUnit {
	t.Helper()
	s, err := source.Open(context.Background(), fmt.Sprintf("test://pattern?width=%d&height=%d&fps=15", w, h), source.Options{Unpaced: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enc, err := codec.NewEncoder(codec.EncoderConfig{Width: w, Height: h, FPS: 15, KeyframeInterval: time.Second, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out []media.AccessUnit
	for len(out) < frames {
		f, err := s.(source.RawSource).Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		au, ok, err := enc.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, media.AccessUnit{Data: au.Data, Key: au.Key})
		}
	}
	return out
}

// spsSize is the picture size of the SPS in an access unit.
func spsSize(au []byte) ([2]int, bool) {
	for _, n := range codec.SplitAnnexB(au) {
		if len(n) > 0 && n[0]&0x1f == codec.NALSPS {
			var p h264.SPS
			if p.Unmarshal(n) != nil {
				return [2]int{}, false
			}
			return [2]int{p.Width(), p.Height()}, true
		}
	}
	return [2]int{}, false
}

// Issue 14 bad input (R7), moved here from edge/pipeline with issue 15: a
// passthrough camera that changes its resolution mid-stream is recorded as
// one segment per size, in order, each holding keyframes of one size only.
func TestSegmentsCutAtResolutionChange(t *testing.T) {
	clip := append(encodeClip(t, 320, 240, 45), encodeClip(t, 640, 360, 45)...)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i := range clip {
		clip[i].Wall = t0.Add(time.Duration(i) * time.Second / 15)
		clip[i].PTS = time.Duration(i) * time.Second / 15
	}
	feed := pipelinetest.Units(t, clip)
	st := newStore(t)
	ctx := context.Background()
	rec := New(Config{Camera: "res", MaxSegment: time.Hour}, st, feed)
	if err := rec.Run(ctx); err != nil {
		t.Fatal(err)
	}
	segs, err := st.Segments(ctx, "res", t0.Add(-time.Minute), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var sizes [][2]int
	for _, sg := range segs {
		seen := map[[2]int]bool{}
		err := st.ReadFrames(ctx, "res", sg.Start, sg.End.Add(time.Nanosecond), func(f storage.Frame) error {
			if f.Key {
				if sz, ok := spsSize(f.Data); ok {
					seen[sz] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != 1 {
			t.Fatalf("segment %s..%s (%d frames) holds keyframes of sizes %v, want one", sg.Start.Format("15:04:05.000"), sg.End.Format("15:04:05.000"), sg.Frames, seen)
		}
		for sz := range seen {
			sizes = append(sizes, sz)
		}
	}
	want := [][2]int{{320, 240}, {640, 360}}
	t.Logf("segments: %d, sizes %v, size cuts %d", len(segs), sizes, rec.SizeCuts())
	if len(sizes) != len(want) || rec.SizeCuts() != 1 || sizes[0] != want[0] || sizes[1] != want[1] {
		t.Fatalf("segment sizes %v (size cuts %d), want %v", sizes, rec.SizeCuts(), want)
	}
}
