package pipeline

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
)

// runReplay runs one camera on src until the replay ends (the camera is
// stopped then) and returns what its hub delivered and its last health.
func runReplay(t *testing.T, cfg CameraConfig, src *replaySource, each func(media.AccessUnit)) (*drain, health.Camera, *Camera) {
	t.Helper()
	tr := health.NewTracker("dev", "test", time.Now)
	cam, err := NewCamera(cfg, Deps{Health: tr, Open: openOnce(src), MinBackoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got := drainReader(cam.Hub().Subscribe(4096), each)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cam.Run(ctx) }()
	select {
	case <-src.done:
	case <-ctx.Done():
		t.Fatal("replay did not end in time")
	}
	// The camera drains the source's queue, then loses it ("gone").
	deadline := time.Now().Add(20 * time.Second)
	for len(src.aus) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	<-got.done
	for _, c := range tr.Snapshot().Cameras {
		if c.ID == cfg.ID {
			return got, c, cam
		}
	}
	t.Fatal("no health for the camera")
	return nil, health.Camera{}, nil
}

// withFiller appends a filler-data NAL (type 12, ignored by decoders) so
// that au is about size bytes.
func withFiller(au []byte, size int) []byte {
	out := make([]byte, 0, size+8)
	out = append(out, au...)
	out = append(out, 0, 0, 0, 1, 12)
	for len(out) < size-1 {
		out = append(out, 0xff)
	}
	return append(out, 0x80)
}

// Issue 14 bad input (R23): bursts of 2 MB access units pass; a unit over
// the storage limit (storage.MaxFrameSize, 4 MiB) is refused with the rest
// of its GOP, counted as dropped, and the camera goes on recording (no
// crash, no restart). Passthrough and masked alike.
func TestOversizedAccessUnitsAreRefusedAndCounted(t *testing.T) {
	base := encodeClip(t, 160, 120, 15, time.Second) // one GOP: 1 IDR + 14 P
	var clip []media.AccessUnit
	for g := 0; g < 6; g++ {
		for i, au := range base {
			switch {
			case i == 0 && g == 2:
				au.Data = withFiller(au.Data, 5<<20) // over the limit
			case i < 3:
				au.Data = withFiller(au.Data, 2<<20) // a burst of 2 MB units
			}
			clip = append(clip, au)
		}
	}
	for _, masked := range []bool{false, true} {
		name := "passthrough"
		cfg := CameraConfig{ID: "big", Source: "rtsp://camera.invalid/"}
		if masked {
			name = "masked"
			cfg.Masks = mustSet([]mask.Mask{{Name: "m", Polygon: []mask.Point{{X: 0, Y: 0}, {X: 0.5, Y: 0}, {X: 0.5, Y: 0.5}, {X: 0, Y: 0.5}}}})
		}
		t.Run(name, func(t *testing.T) {
			src := newReplay(clip, 160, 120, 1, 1)
			got, h, _ := runReplay(t, cfg, src, nil)
			t.Logf("%s: hub %d units (largest %d bytes), health: %s, %d dropped, source lost %d", name, got.n.Load(), got.maxAU.Load(), h.State, h.Dropped, src.Dropped())
			if got.maxAU.Load() > DefaultMaxAccessUnit {
				t.Fatalf("a %d-byte unit reached the hub", got.maxAU.Load())
			}
			if src.Dropped() != 0 {
				t.Fatalf("the camera fell behind on 2 MB units: the source lost %d", src.Dropped())
			}
			// The refused GOP (15 units) is counted, nothing else is lost.
			if h.Dropped != 15 {
				t.Fatalf("health counts %d dropped, want the refused GOP of 15", h.Dropped)
			}
			if want := int64(len(clip) - 15); got.n.Load() < want-2 {
				t.Fatalf("hub delivered %d units, want about %d", got.n.Load(), want)
			}
			if !masked && got.maxAU.Load() < 2<<20 {
				t.Fatal("the 2 MB units did not pass through")
			}
		})
	}
}

// Issue 14 bad input: a camera whose resolution changes mid-stream. A
// passthrough camera looks at the new keyframe at once (health and the
// snapshot show the new size) and publishes the new parameter sets; a
// masked camera re-creates its encoder for the new size and the masks stay
// exact in the coded output (decoded and checked).
func TestResolutionChangeMidStream(t *testing.T) {
	a := encodeClip(t, 320, 240, 45, time.Second)
	b := encodeClip(t, 640, 360, 45, time.Second)
	clip := append(append([]media.AccessUnit(nil), a...), b...)
	masks := []mask.Mask{{Name: "left", Polygon: []mask.Point{{X: 0, Y: 0}, {X: 0.5, Y: 0}, {X: 0.5, Y: 1}, {X: 0, Y: 1}}}}

	t.Run("passthrough", func(t *testing.T) {
		src := newReplay(clip, 320, 240, 1, 1)
		var sawNewSPS bool
		got, h, cam := runReplay(t, CameraConfig{ID: "res", Source: "rtsp://camera.invalid/"}, src, func(au media.AccessUnit) {
			if au.Key && bytes.Equal(au.Data, b[0].Data) {
				sawNewSPS = true
			}
		})
		// The recorder's cut at the size change: edge/record's
		// TestSegmentsCutAtResolutionChange (it takes pipeline.Video, so
		// it is tested there, through a passthrough camera).
		if h.Width != 640 || h.Height != 360 {
			t.Fatalf("health says %dx%d after the change", h.Width, h.Height)
		}
		img, _, err := cam.Snapshot(context.Background())
		if err != nil || img.Bounds().Dx() != 640 {
			t.Fatalf("snapshot after the change: %v %v", img, err)
		}
		if !sawNewSPS || got.n.Load() != int64(len(clip)) {
			t.Fatalf("hub: %d of %d units, new keyframe seen %v", got.n.Load(), len(clip), sawNewSPS)
		}
	})

	t.Run("masked", func(t *testing.T) {
		src := newReplay(clip, 320, 240, 1, 1)
		dec, err := codec.NewDecoder()
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		sizes := map[[2]int]int{}
		var worst MaskResult
		checked := 0
		_, h, _ := runReplay(t, CameraConfig{ID: "res", Source: "rtsp://camera.invalid/", Masks: mustSet(masks)}, src, func(au media.AccessUnit) {
			pic, err := dec.Decode(au.Data)
			if err != nil || pic == nil {
				return
			}
			sizes[[2]int{pic.Width, pic.Height}]++
			res := (MaskCheck{}).Check(pic, masks)
			checked++
			if !res.OK {
				worst = res.Masks[0]
			}
		})
		t.Logf("decoded sizes %v, %d pictures checked, health %dx%d dropped %d", sizes, checked, h.Width, h.Height, h.Dropped)
		// Pictures dropped by an overloaded box (race detector, parallel
		// tests) are counted in health; the rest must be at the new size.
		if sizes[[2]int{320, 240}] == 0 || sizes[[2]int{640, 360}] == 0 || sizes[[2]int{640, 360}]+int(h.Dropped) < 30 {
			t.Fatalf("coded output sizes %v: the encoder did not follow the change", sizes)
		}
		if worst.Mask != "" {
			t.Fatalf("mask not exact after the change: %+v", worst)
		}
		if h.Width != 640 || h.Height != 360 {
			t.Fatalf("health says %dx%d", h.Width, h.Height)
		}
	})
}

// Issue 14 bad input: a camera that sends a keyframe only every 60 s. A
// passthrough camera records every unit and has its snapshot from the one
// keyframe; a masked camera records with its own keyframes (every
// KeyframeInterval) whatever the camera's GOP, and when its encoder falls
// behind it does not throw the rest of a minute-long GOP away: it drops
// pictures until the queue drains, counts them, and keeps recording.
func TestLongGOPCamera(t *testing.T) {
	clip := encodeClipX264(t, 160, 120, 90, 900) // 6 s of a 60 s GOP: one keyframe
	if n := countKeys(clip); n != 1 {
		t.Fatalf("clip has %d keyframes", n)
	}
	t.Run("passthrough", func(t *testing.T) {
		src := newReplay(clip, 160, 120, 1, 1)
		got, h, cam := runReplay(t, CameraConfig{ID: "gop", Source: "rtsp://camera.invalid/"}, src, nil)
		if got.n.Load() != int64(len(clip)) || h.Dropped != 0 {
			t.Fatalf("hub %d of %d units, %d dropped", got.n.Load(), len(clip), h.Dropped)
		}
		if _, _, err := cam.Snapshot(context.Background()); err != nil {
			t.Fatalf("no snapshot from the only keyframe: %v", err)
		}
	})
	t.Run("masked", func(t *testing.T) {
		src := newReplay(clip, 160, 120, 1, 1)
		got, h, _ := runReplay(t, CameraConfig{ID: "gop", Source: "rtsp://camera.invalid/", Masks: mustSet(testMasks()), KeyframeInterval: time.Second}, src, nil)
		if got.keys.Load() < 4 || got.n.Load() < int64(len(clip))*95/100 {
			t.Fatalf("recorded %d units with %d keyframes of %d pictures (%d dropped)", got.n.Load(), got.keys.Load(), len(clip), h.Dropped)
		}
	})
	t.Run("masked-behind", func(t *testing.T) {
		big := encodeClipX264(t, 640, 360, 150, 900)
		src := newReplay(big, 640, 360, 30, 1) // 30× real time: the encoder cannot follow
		got, h, _ := runReplay(t, CameraConfig{ID: "gop", Source: "rtsp://camera.invalid/", Masks: mustSet(testMasks())}, src, nil)
		t.Logf("kept %d, dropped %d (source lost %d) of %d", got.n.Load(), h.Dropped, src.Dropped(), len(big))
		if h.Dropped == 0 {
			t.Skip("this box encoded 450 fps of 640x360: nothing fell behind")
		}
		// Skipping to the next keyframe would have kept one picture.
		if got.n.Load() < 10 {
			t.Fatalf("kept %d pictures of a 150-picture GOP: the rest of a minute-long GOP was thrown away", got.n.Load())
		}
		if uint64(got.n.Load())+h.Dropped+frameQueue+2 < uint64(len(big)) {
			t.Fatalf("kept %d + dropped %d of %d: loss not counted", got.n.Load(), h.Dropped, len(big))
		}
	})
}

func countKeys(aus []media.AccessUnit) int {
	n := 0
	for _, au := range aus {
		if au.Key {
			n++
		}
	}
	return n
}
