package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
)

// countingSource counts the pictures a raw camera delivered.
type countingSource struct {
	source.RawSource
	n atomic.Uint64
}

func (c *countingSource) Read(ctx context.Context) (*media.Frame, error) {
	f, err := c.RawSource.Read(ctx)
	if err == nil {
		c.n.Add(1)
	}
	return f, err
}

// Issue 14 (R23, D2): more masked 1080p cameras than the box can carry,
// in one process, next to a passthrough camera. Within seconds a masked
// camera is degraded ("dropping frames") with its loss counted in health
// (what /metrics and the beacon report); the passthrough camera keeps
// ≥ 95 % of its frames. Asserts outcomes, not timings; bounded to 60 s.
func TestOverloadDegradesMaskedAndSparesPassthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("overload test: seconds of full CPU")
	}
	// 1080p15 masked: far more than the box can carry. The test pattern
	// codes cheaply (a fast 2-core Xeon kept up with 6), so 8 per core.
	masked := 8*runtime.NumCPU() + 2
	tr := health.NewTracker("dev", "test", time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var dones []chan error
	run := func(cam *Camera) {
		done := make(chan error, 1)
		go func() { done <- cam.Run(ctx) }()
		dones = append(dones, done)
	}
	masks := []mask.Mask{{Name: "m", Polygon: []mask.Point{{X: 0, Y: 0}, {X: 0.5, Y: 0}, {X: 0.5, Y: 0.5}, {X: 0, Y: 0.5}}}}
	reads := make([]*countingSource, masked)
	for i := range masked {
		open := func(ctx context.Context, url string, o source.Options) (source.Source, error) {
			s, err := source.Open(ctx, url, o)
			if err != nil {
				return nil, err
			}
			reads[i] = &countingSource{RawSource: s.(source.RawSource)}
			return reads[i], nil
		}
		cam, err := NewCamera(CameraConfig{ID: fmt.Sprintf("m%d", i), Source: "test://pattern?width=1920&height=1080&fps=15", Masks: mustSet(masks)},
			Deps{Health: tr, Open: open})
		if err != nil {
			t.Fatal(err)
		}
		drainReader(cam.Hub().Subscribe(1000), nil)
		run(cam)
	}
	clip := encodeClip(t, 320, 240, 30, time.Second)
	src := newReplay(clip, 320, 240, 1, 1000)
	pt, err := NewCamera(CameraConfig{ID: "pt", Source: "rtsp://camera.invalid/"}, Deps{Health: tr, Open: openOnce(src)})
	if err != nil {
		t.Fatal(err)
	}
	got := drainReader(pt.Hub().Subscribe(1000), nil)
	run(pt)
	started := time.Now()

	// Degraded with a drop count: catch it while it holds (a camera that
	// recovers in the next window goes back to recording).
	var seen health.Camera
	for seen.ID == "" && ctx.Err() == nil {
		for _, c := range tr.Snapshot().Cameras {
			if c.ID != "pt" && c.State == health.StateDegraded && strings.HasPrefix(c.Reason, "dropping frames") && c.Dropped > 0 {
				seen = c
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if seen.ID == "" {
		t.Fatalf("no masked camera degraded with drops: %+v", tr.Snapshot().Cameras)
	}
	t.Logf("%s: %s (%d dropped)", seen.ID, seen.Reason, seen.Dropped)
	time.Sleep(3 * time.Second) // the passthrough camera keeps running under the overload
	offered := src.offered.Load()
	elapsed := time.Since(started)
	cancel()
	for _, d := range dones {
		<-d
	}
	<-got.done
	var ptHealth health.Camera
	var droppedMasked uint64
	for _, c := range tr.Snapshot().Cameras {
		if c.ID == "pt" {
			ptHealth = c
			continue
		}
		droppedMasked += c.Dropped
		// No silent loss: every picture the camera captured was recorded
		// or counted as dropped, except those still queued at the stop.
		var n int
		fmt.Sscanf(c.ID, "m%d", &n)
		captured := reads[n].n.Load()
		t.Logf("%s: captured %d, kept %d, dropped %d", c.ID, captured, c.Frames, c.Dropped)
		if c.Frames+c.Dropped+frameQueue+2 < captured {
			t.Errorf("%s: captured %d pictures, kept %d and counted %d dropped: loss not counted", c.ID, captured, c.Frames, c.Dropped)
		}
	}
	kept := float64(got.n.Load()) / float64(offered)
	t.Logf("masked cameras: %d dropped in total in %s; passthrough kept %d of %d units (%.1f%%), health dropped %d",
		droppedMasked, elapsed.Round(time.Millisecond), got.n.Load(), offered, 100*kept, ptHealth.Dropped)
	if droppedMasked == 0 {
		t.Fatal("the masked cameras lost frames but health counts none")
	}
	// The first unit(s) before the reader subscribed and the last in
	// flight at cancel may be missing; 95 % is the bar.
	if kept < 0.95 {
		t.Fatalf("passthrough camera kept %.1f%% of its frames under overload", 100*kept)
	}
}
