package pipeline

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
)

// lossySource is a camera that loses one frame for each one it delivers
// until lossUntil, then none (a box or network that fell behind and
// recovered). It counts its losses like the RTSP source does.
type lossySource struct {
	source.RawSource
	lossUntil time.Time
	dropped   atomic.Uint64
}

func (l *lossySource) Read(ctx context.Context) (*media.Frame, error) {
	if time.Now().Before(l.lossUntil) {
		l.dropped.Add(1)
	}
	return l.RawSource.Read(ctx)
}

func (l *lossySource) Dropped() uint64 { return l.dropped.Load() }

// Issue 14 (R23, R24): no silent frame loss. Lost frames are counted in the
// camera's health; a camera losing more than 5 % in a window is degraded
// with a reason that says so, and recovers when the loss stops.
func TestDroppedFramesAreCountedAndDegrade(t *testing.T) {
	var src *lossySource
	open := func(ctx context.Context, url string, o source.Options) (source.Source, error) {
		s, err := source.Open(ctx, url, o)
		if err != nil {
			return nil, err
		}
		src = &lossySource{RawSource: s.(source.RawSource), lossUntil: time.Now().Add(2500 * time.Millisecond)}
		return src, nil
	}
	hl := &stateLog{}
	cam, err := NewCamera(CameraConfig{ID: "c1", Source: "test://pattern?width=160&height=120&fps=15", Masks: mustSet(testMasks())},
		Deps{Health: hl, Open: open})
	if err != nil {
		t.Fatal(err)
	}
	r := cam.Hub().Subscribe(1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cam.Run(ctx) }()
	go func() {
		for range r.C() {
		}
	}()
	snap := func() health.Camera { hl.mu.Lock(); defer hl.mu.Unlock(); return hl.last }
	waitFor := func(what string, ok func(health.Camera) bool) health.Camera {
		t.Helper()
		deadline := time.Now().Add(8 * time.Second)
		for time.Now().Before(deadline) {
			if c := snap(); ok(c) {
				return c
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: health %+v", what, snap())
		return health.Camera{}
	}
	c := waitFor("degraded while losing frames", func(c health.Camera) bool {
		return c.State == health.StateDegraded && strings.HasPrefix(c.Reason, "dropping frames") && c.Dropped > 0
	})
	t.Logf("while losing: %s, %d dropped", c.Reason, c.Dropped)
	c = waitFor("recording again after the loss stopped", func(c health.Camera) bool { return c.State == health.StateRecording })
	// Health counts every loss: the source's, and pictures the two-stage
	// masked pipeline dropped when a loaded machine made its queue overflow
	// (issue 14). Never fewer than the source lost.
	if c.Dropped < src.Dropped() {
		t.Fatalf("health counts %d dropped, the source lost %d", c.Dropped, src.Dropped())
	}
	cancel()
	<-done
}
