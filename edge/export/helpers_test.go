package export

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/storage"
)

// t0 is the start of the recorded test footage.
var t0 = time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)

const (
	fps       = 15
	gop       = 30 // frames: one keyframe every 2 s
	nFrames   = 300
	segFrames = 150
)

// Fill colour of the test mask (edge/mask's default fill: video black).
var maskBox = struct{ x, y, w, h int }{32, 32, 160, 96}

var (
	h264Once sync.Once
	h264AUs  [][]byte
	h264Err  error
)

func frameTime(i int) time.Time { return t0.Add(time.Duration(i) * time.Second / fps) }

// testAUs encodes 20 s of testsrc2 with a black box burned in where a fill
// mask would be (as the recorder stores masked video) and splits the
// stream into access units at the AUD NAL units.
func testAUs(t testing.TB) [][]byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg not installed: run scripts/deps.sh")
	}
	h264Once.Do(func() {
		dir, err := os.MkdirTemp("", "export-h264")
		if err != nil {
			h264Err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "in.h264")
		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
			"-i", "testsrc2=size=640x360:rate=15", "-frames:v", "300",
			"-vf", "drawbox=x=32:y=32:w=160:h=96:color=black@1:t=fill",
			"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
			"-bsf:v", "h264_metadata=aud=insert", "-f", "h264", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			h264Err = err
			h264Err = &exec.Error{Name: "ffmpeg: " + string(b), Err: err}
			return
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			h264Err = err
			return
		}
		h264AUs = splitAtAUD(raw)
	})
	if h264Err != nil {
		t.Fatal(h264Err)
	}
	if len(h264AUs) != nFrames {
		t.Fatalf("%d access units, want %d", len(h264AUs), nFrames)
	}
	return h264AUs
}

// splitAtAUD splits an Annex-B stream before every access unit delimiter.
func splitAtAUD(b []byte) [][]byte {
	var starts []int
	for i := 0; i+4 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 && b[i+3]&0x1f == 9 {
			s := i
			if s > 0 && b[s-1] == 0 {
				s--
			}
			starts = append(starts, s)
		}
	}
	var out [][]byte
	for k, s := range starts {
		e := len(b)
		if k+1 < len(starts) {
			e = starts[k+1]
		}
		out = append(out, bytes.Clone(b[s:e]))
	}
	return out
}

func isKey(au []byte) bool {
	for i := 0; i+3 < len(au); i++ {
		if au[i] == 0 && au[i+1] == 0 && au[i+2] == 1 && au[i+3]&0x1f == 5 {
			return true
		}
	}
	return false
}

// recordedStore provisions a store in a temp dir and records the 20 s
// test stream for camera "cam1" as two 10 s segments (and skip frames
// [skipFrom, skipTo) to make a gap, if skipTo > skipFrom).
func recordedStore(t testing.TB, skipFrom, skipTo int) *storage.Store {
	t.Helper()
	aus := testAUs(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 32 << 20}); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(ctx, dir, storage.Options{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var w *storage.SegmentWriter
	for i, au := range aus {
		if i >= skipFrom && i < skipTo {
			if w != nil {
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				w = nil
			}
			continue
		}
		key := isKey(au)
		if key && (w == nil || i%segFrames == 0) {
			if w != nil {
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			w, err = s.BeginSegment(ctx, storage.SegmentMeta{Camera: "cam1", Start: frameTime(i), ClockSynced: true})
			if err != nil {
				t.Fatal(err)
			}
		}
		if w == nil {
			continue
		}
		if err := w.WriteFrame(storage.Frame{Time: frameTime(i), Key: key, Data: au}); err != nil {
			t.Fatal(err)
		}
	}
	if w != nil {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// allow is an Authorizer that records its calls and returns err.
type allow struct {
	err   error
	calls []string
}

func (a *allow) AuthorizeExport(_ context.Context, grant, camera string, from, to time.Time) error {
	a.calls = append(a.calls, grant+"|"+camera+"|"+from.Format(time.RFC3339Nano)+"|"+to.Format(time.RFC3339Nano))
	return a.err
}
