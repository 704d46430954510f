package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
)

// Issue 14 (R10): passthrough cameras look at keyframes on one pool shared
// by all cameras, off their read loops. While the only slot is taken no
// camera waits for it: every camera keeps publishing every unit (its
// source loses nothing) and simply has no snapshot yet; once the slot is
// free each camera gets its look at a following keyframe, and the result
// reaches the camera's loop (image health, snapshot) without a data race
// (run with -race).
func TestLookPoolSharedOffTheReadLoop(t *testing.T) {
	clip := encodeClip(t, 160, 120, 30, 500*time.Millisecond)
	pool := NewLookPool(1)
	release := make(chan struct{})
	if !pool.TryGo(func() { <-release }) {
		t.Fatal("an empty pool refused a look")
	}
	tr := health.NewTracker("dev", "test", time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type camRun struct {
		cam  *Camera
		src  *replaySource
		got  *drain
		done chan error
	}
	var cams []camRun
	for i := range 3 {
		src := newReplay(clip, 160, 120, 1, 1000)
		cam, err := NewCamera(CameraConfig{ID: fmt.Sprintf("ip%d", i), Source: "rtsp://camera.invalid/"},
			Deps{Health: tr, Open: openOnce(src), Looks: pool})
		if err != nil {
			t.Fatal(err)
		}
		cr := camRun{cam: cam, src: src, got: drainReader(cam.Hub().Subscribe(1000), nil), done: make(chan error, 1)}
		go func() { cr.done <- cam.Run(ctx) }()
		cams = append(cams, cr)
	}
	time.Sleep(2 * time.Second)
	for _, c := range cams {
		if _, _, err := c.cam.Snapshot(context.Background()); err != ErrNoSnapshot {
			t.Fatalf("%s: a look ran while the pool's only slot was taken (%v)", c.cam.ID(), err)
		}
		if n := c.got.n.Load(); n < 20 {
			t.Fatalf("%s: only %d units published in 2 s while its looks could not run", c.cam.ID(), n)
		}
	}
	if _, busy := pool.Stats(); busy == 0 {
		t.Fatal("no camera asked the pool for a look")
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range cams {
		for {
			img, _, err := c.cam.Snapshot(context.Background())
			if err == nil {
				if b := img.Bounds(); b.Dx() != 160 || b.Dy() != 120 {
					t.Fatalf("%s: snapshot %v", c.cam.ID(), b)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no snapshot 5 s after the pool freed up", c.cam.ID())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, c := range cams {
		if d := c.src.Dropped(); d != 0 {
			t.Fatalf("%s: the source lost %d units: a look stalled reading", c.cam.ID(), d)
		}
		if w := tr.Snapshot(); len(w.Cameras) == 0 {
			t.Fatal("no camera health")
		}
	}
	cancel()
	for _, c := range cams {
		<-c.done
	}
	if done, _ := pool.Stats(); done < 4 {
		t.Fatalf("pool ran %d looks, want ≥ 4 (the blocker and one per camera)", done)
	}
}
