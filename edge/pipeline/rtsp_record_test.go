package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/record"
	"github.com/edgerec/edgerec/edge/source"
	"github.com/edgerec/edgerec/edge/source/rtsprig"
	"github.com/edgerec/edgerec/storage"
)

// rtspSet is rtspMasks as the validated set a camera takes.
func rtspSet() mask.Set {
	s, err := mask.NewSet(rtspMasks())
	if err != nil {
		panic(err)
	}
	return s
}

func rtspMasks() []mask.Mask {
	return []mask.Mask{
		{Name: "window", Style: mask.StyleFill, Polygon: []mask.Point{{X: 0.05, Y: 0.10}, {X: 0.45, Y: 0.10}, {X: 0.45, Y: 0.55}, {X: 0.05, Y: 0.55}}},
		{Name: "door", Style: mask.StylePixelate, Polygon: []mask.Point{{X: 0.60, Y: 0.45}, {X: 0.95, Y: 0.45}, {X: 0.95, Y: 0.95}, {X: 0.60, Y: 0.95}}},
	}
}

type rig struct {
	t     testing.TB
	srv   *rtsprig.Server
	pub   *rtsprig.Publisher
	store *storage.Store
	tr    *health.Tracker
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := newRigNoPublish(t)
	r.publish()
	return r
}

func newRigNoPublish(t testing.TB) *rig {
	t.Helper()
	srv, err := rtsprig.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	dir := t.TempDir()
	ctx := context.Background()
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{FlushInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &rig{t: t, srv: srv, store: st, tr: health.NewTracker("t", "test", nil)}
}

func (r *rig) publish() {
	r.t.Helper()
	p, err := r.srv.Publish(context.Background(), "cam", rtsprig.FFmpegArgs("640x360", 15))
	if err != nil {
		r.t.Fatal(err)
	}
	r.pub = p
	r.t.Cleanup(p.Stop)
}

func (r *rig) waitState(want health.CameraState, within time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, c := range r.tr.Snapshot().Cameras {
			if c.State == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("camera never %s: %+v", want, r.tr.Snapshot().Cameras)
}

// TestRTSPMaskedCameraFlaps: a masked RTSP camera records (decode → mask →
// encode), the camera disappears and comes back, the recorder resumes by
// itself, the gap is in the index, nothing before it is lost, and every
// stored picture — including the first after the reconnect — has its
// masks burned in (R2, D2, D3, issue 4).
func TestRTSPMaskedCameraFlaps(t *testing.T) {
	r := newRig(t)
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{ID: "cam", Source: r.srv.URL("cam"), Masks: rtspSet()},
		pipeline.Deps{Health: r.tr, MinBackoff: 200 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := record.New(record.Config{Camera: "cam", MaxSegment: 3 * time.Second}, r.store, cam.Hub().Subscribe(512))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { cam.Run(ctx); done <- struct{}{} }()
	go func() { rec.Run(ctx); done <- struct{}{} }()

	r.waitState(health.StateRecording, 20*time.Second)
	time.Sleep(5 * time.Second)
	flapAt := time.Now()
	r.pub.Stop()
	r.srv.Stop()
	r.waitState(health.StateLost, 20*time.Second)
	time.Sleep(1500 * time.Millisecond)
	if err := r.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	r.publish()
	backAt := time.Now()
	r.waitState(health.StateRecording, 30*time.Second)
	time.Sleep(4 * time.Second)
	cancel()
	<-done
	<-done

	segs, err := r.store.Segments(context.Background(), "cam", time.Time{}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var before, after int
	for _, s := range segs {
		if !s.Closed {
			t.Errorf("segment %d open after shutdown", s.ID)
		}
		if s.End.Before(flapAt.Add(time.Second)) {
			before += s.Frames
		} else if s.Start.After(flapAt) {
			after += s.Frames
		}
	}
	if before < 60 || after < 30 {
		t.Fatalf("frames before the flap %d (want ≥ 60), after %d (want ≥ 30): %+v", before, after, segs)
	}
	spans, err := r.store.Coverage(context.Background(), "cam", time.Time{}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	gap := false
	for i := 1; i < len(spans); i++ {
		g := spans[i].From.Sub(spans[i-1].To)
		if g >= time.Second && !spans[i-1].To.After(backAt) {
			gap = true
			t.Logf("gap in the index: %s → %s (%s)", spans[i-1].To.Format(time.StampMilli), spans[i].From.Format(time.StampMilli), g.Round(time.Millisecond))
		}
	}
	if !gap {
		t.Fatalf("no gap of ≥ 1 s in the coverage: %+v", spans)
	}

	dec, err := codec.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	pics := 0
	var firstAfter *pipeline.PictureResult
	err = r.store.ReadFrames(context.Background(), "cam", segs[0].Start, time.Now().Add(time.Hour), func(f storage.Frame) error {
		pic, err := dec.Decode(f.Data)
		if err != nil {
			t.Fatalf("stored frame at %s does not decode: %v", f.Time, err)
		}
		if pic == nil {
			return nil
		}
		pics++
		res := pipeline.MaskCheck{}.Check(pic, rtspMasks())
		if !res.OK {
			t.Fatalf("stored picture %d at %s: masks not intact: %+v", pics, f.Time, res.Masks)
		}
		if firstAfter == nil && f.Time.After(flapAt) {
			firstAfter = &res
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if firstAfter == nil {
		t.Fatal("no picture after the reconnect")
	}
	t.Logf("%d stored pictures decoded and verified; first after reconnect: %s / %s", pics, firstAfter.Masks[0].Description, firstAfter.Masks[1].Description)
}

// TestRTSPPassthroughKeepsCameraStream: a camera without masks records
// the camera's own H.264 unchanged (no decode, no encode): the stored
// keyframes carry the camera's (x264's) SPS byte for byte, which our own
// encoder would never write.
func TestRTSPPassthroughKeepsCameraStream(t *testing.T) {
	r := newRig(t)
	// What the camera sends, seen by an independent client.
	probe, err := source.Open(context.Background(), r.srv.URL("cam"), source.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	first, err := probe.(source.CodedSource).ReadAU(context.Background())
	probe.Close()
	if err != nil {
		t.Fatal(err)
	}
	camSPS := spsOf(first.Data)
	if camSPS == nil {
		t.Fatal("camera keyframe without SPS")
	}
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{ID: "cam", Source: r.srv.URL("cam")}, pipeline.Deps{Health: r.tr})
	if err != nil {
		t.Fatal(err)
	}
	rec := record.New(record.Config{Camera: "cam"}, r.store, cam.Hub().Subscribe(512))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { cam.Run(ctx); done <- struct{}{} }()
	go func() { rec.Run(ctx); done <- struct{}{} }()
	r.waitState(health.StateRecording, 20*time.Second)
	time.Sleep(3 * time.Second)
	cancel()
	<-done
	<-done
	frames, keys := 0, 0
	err = r.store.ReadFrames(context.Background(), "cam", time.Time{}, time.Now().Add(time.Hour), func(f storage.Frame) error {
		frames++
		if f.Key {
			keys++
			if got := spsOf(f.Data); !bytes.Equal(got, camSPS) {
				return fmt.Errorf("stored keyframe SPS %x, camera sent %x", got, camSPS)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if frames < 30 || keys < 1 {
		t.Fatalf("%d frames, %d keyframes stored", frames, keys)
	}
	for _, c := range r.tr.Snapshot().Cameras {
		if c.Masked || !bytes.Contains([]byte(c.Encoder), []byte("passthrough")) {
			t.Fatalf("health: %+v", c)
		}
	}
}

func spsOf(au []byte) []byte {
	for _, n := range codec.SplitAnnexB(au) {
		if n[0]&0x1f == codec.NALSPS {
			return n
		}
	}
	return nil
}

// TestSetMasksSwitchesPassthroughToMasked: masks drawn on a running
// passthrough RTSP camera take effect at once: nothing unmasked is
// published after SetMasks returns (R2), and removing them goes back to
// passthrough.
func TestSetMasksSwitchesPassthroughToMasked(t *testing.T) {
	r := newRig(t)
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{ID: "cam", Source: r.srv.URL("cam")}, pipeline.Deps{Health: r.tr})
	if err != nil {
		t.Fatal(err)
	}
	reader := cam.Hub().Subscribe(1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cam.Run(ctx); close(done) }()
	r.waitState(health.StateRecording, 20*time.Second)

	type got struct {
		at time.Time
		au []byte
	}
	var (
		units []got
		stop  = make(chan struct{})
		fin   = make(chan struct{})
	)
	go func() {
		defer close(fin)
		for {
			select {
			case au, ok := <-reader.C():
				if !ok {
					return
				}
				units = append(units, got{time.Now(), au.AU().Data})
			case <-stop:
				return
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	cam.SetMasks(rtspSet())
	setAt := time.Now()
	time.Sleep(4 * time.Second)
	close(stop)
	<-fin
	cancel()
	<-done

	dec, err := codec.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	// The camera's own SPS, from the passthrough units before the change.
	var camSPS []byte
	for _, u := range units {
		if sps := spsOf(u.au); sps != nil && u.at.Before(setAt) {
			camSPS = sps
			break
		}
	}
	if camSPS == nil {
		t.Fatal("no passthrough keyframe before SetMasks")
	}
	checked, x264After := 0, 0
	for _, u := range units {
		if !u.at.After(setAt.Add(100 * time.Millisecond)) {
			continue
		}
		if sps := spsOf(u.au); sps != nil && bytes.Equal(sps, camSPS) {
			x264After++
		}
		pic, err := dec.Decode(u.au)
		if err != nil || pic == nil {
			continue
		}
		checked++
		if res := (pipeline.MaskCheck{}).Check(pic, rtspMasks()); !res.OK {
			t.Fatalf("picture published after SetMasks is not masked: %+v", res.Masks)
		}
	}
	if checked < 30 || x264After > 0 {
		t.Fatalf("checked %d pictures after the change; %d camera keyframes (its own SPS) still passed through", checked, x264After)
	}
	// Invalid masks cannot reach a camera: they never become a Set.
	if _, err := mask.NewSet([]mask.Mask{{Name: "bad", Polygon: []mask.Point{{X: 0, Y: 0}}}}); err == nil {
		t.Fatal("invalid masks accepted")
	}
	if cam.Masks().Len() != 2 {
		t.Fatal("the camera lost its masks")
	}
}
