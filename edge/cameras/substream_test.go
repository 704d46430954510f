package cameras

import (
	"context"
	"image"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/source/rtsprig"
	"github.com/edgerec/edgerec/storage"
)

// Issue 18 (substreams): a camera with a sub stream is viewed through it —
// live view and snapshots are the sub stream's size and masked with the
// same masks — while recording holds the main stream.
func TestSubStreamForViewingMainForRecording(t *testing.T) {
	r := newRig(t)
	if len(r.cfg.Cameras[0].Masks) == 0 {
		t.Fatal("the demo camera has no masks: the test needs a masked camera")
	}
	r.cfg.Cameras[0].SubSource = "test://pattern?width=160&height=96&fps=15"
	data, err := r.cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteConfigFile(r.path, data, r.cfg); err != nil {
		t.Fatal(err)
	}
	m := r.manager(Deps{})
	run(t, r.ctx, m)
	id := r.cfg.Cameras[0].ID
	masks, err := r.cfg.Cameras[0].MaskSet()
	if err != nil {
		t.Fatal(err)
	}

	// Snapshot: the sub stream's size, masked.
	var img image.Image
	for deadline := time.Now().Add(20 * time.Second); ; {
		img, _, err = m.Snapshot(context.Background(), id)
		if err == nil && img.Bounds().Dx() == 160 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sub stream snapshot: %v %v", img, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	y := img.(*image.YCbCr)
	f := &media.Frame{Width: 160, Height: 96, Y: y.Y, U: y.Cb, V: y.Cr}
	if res := (pipeline.MaskCheck{Tolerance: 4, Margin: 2}).Check(f, masks.Masks()); !res.OK {
		t.Fatalf("sub stream snapshot not masked: %+v", res.Masks)
	}

	// Live: the feed carries the sub stream, masked.
	feed, err := m.Subscribe(id)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := codec.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var pic *media.Frame
	for deadline := time.After(20 * time.Second); pic == nil; {
		select {
		case v := <-feed.C():
			if p, err := dec.Decode(v.AU().Data); err == nil && p != nil {
				pic = p
			}
		case <-deadline:
			t.Fatal("no live picture")
		}
	}
	if pic.Width != 160 || pic.Height != 96 {
		t.Fatalf("live view is %dx%d, want the 160x96 sub stream", pic.Width, pic.Height)
	}
	if res := (pipeline.MaskCheck{Tolerance: 4, Margin: 2}).Check(pic, masks.Masks()); !res.OK {
		t.Fatalf("live sub stream not masked: %+v", res.Masks)
	}

	// Recording: the main stream.
	time.Sleep(1500 * time.Millisecond) // a closed segment (1 s segments)
	rec, err := codec.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	var w, h int
	err = r.st.ReadFrames(context.Background(), id, time.Now().Add(-time.Minute), time.Now(), func(fr storage.Frame) error {
		if p, err := rec.Decode(fr.Data); err == nil && p != nil && w == 0 {
			w, h = p.Width, p.Height
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if w != 320 || h != 240 {
		t.Fatalf("recorded %dx%d, want the 320x240 main stream", w, h)
	}
}

// A sub stream URL with its own password is refused (the camera's
// credential applies to both).
func TestSubStreamPasswordRefused(t *testing.T) {
	r := newRig(t)
	r.cfg.Cameras[0].SubSource = "rtsp://admin:secret@192.168.1.20/sub"
	if err := r.cfg.Validate(); err == nil {
		t.Fatal("a sub_source with a password was accepted")
	}
}

// Issue 18 (image health from the sub stream), issue 14 (passthrough
// cost): a camera without masks passes its main stream through; its sub
// stream watches the picture. The sub stream here is black while the main
// stream shows a test pattern: health says "black" (it came from the sub
// stream), and the main stream stops its periodic keyframe decodes once
// the sub stream delivers.
func TestSubStreamWatchesThePicture(t *testing.T) {
	srv, err := rtsprig.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	main, err := srv.Publish(pctx, "main", rtsprig.FFmpegArgs("640x360", 15))
	if err != nil {
		t.Fatal(err)
	}
	defer main.Stop()
	sub, err := srv.Publish(pctx, "sub", []string{"-re", "-f", "lavfi", "-i", "color=black:size=160x96:rate=15",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline", "-bf", "0", "-g", "15", "-pix_fmt", "yuv420p"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	r := newRig(t)
	r.cfg.Cameras[0].Source = config.URL(srv.URL("main"))
	r.cfg.Cameras[0].SubSource = config.URL(srv.URL("sub"))
	r.cfg.Cameras[0].Masks = nil
	data, err := r.cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteConfigFile(r.path, data, r.cfg); err != nil {
		t.Fatal(err)
	}
	m := r.manager(Deps{})
	run(t, r.ctx, m)
	id := r.cfg.Cameras[0].ID
	image := func() health.ImageFlags {
		for _, c := range r.tracker.Snapshot().Cameras {
			if c.ID == id {
				return c.Image
			}
		}
		return 0
	}
	for deadline := time.Now().Add(30 * time.Second); image()&health.ImageBlack == 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("health never said black (the sub stream is black): %+v", r.tracker.Snapshot().Cameras)
		}
	}
	m.mu.Lock()
	rc := m.running[id]
	m.mu.Unlock()
	before := rc.cam.LooksTaken()
	time.Sleep(pipeline.PassthroughLook + 6*time.Second) // one look interval with its jitter
	if after := rc.cam.LooksTaken(); after != before || before > 1 {
		t.Errorf("the main stream took %d keyframe looks (%d before the sub stream watched); want none while the sub stream delivers", after, before)
	}
	if image()&health.ImageBlack == 0 {
		t.Error("the black picture was cleared by the main stream")
	}
	t.Logf("image health from the sub stream: black; main stream keyframe looks: %d", rc.cam.LooksTaken())
}
