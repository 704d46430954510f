package pipeline

import (
	"context"
	"image"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
)

// codedPattern is an IP camera without masks: the test pattern encoded to
// H.264 (a keyframe every 500 ms), paced at 15 fps.
type codedPattern struct {
	raw  source.RawSource
	enc  *codec.Encoder
	none *mask.Masker
	keys atomic.Int64
}

func (p *codedPattern) Info() media.StreamInfo { return p.raw.Info() }
func (p *codedPattern) Close() error           { p.enc.Close(); return p.raw.Close() }
func (p *codedPattern) ReadAU(ctx context.Context) (media.AccessUnit, error) {
	for {
		f, err := p.raw.Read(ctx)
		if err != nil {
			return media.AccessUnit{}, err
		}
		au, ok, err := p.enc.Encode(p.none.Apply(f).Frame())
		if err != nil {
			return media.AccessUnit{}, err
		}
		if ok {
			au.Wall = f.Wall
			if au.Key {
				p.keys.Add(1)
			}
			return au, nil
		}
	}
}

// Issue 14: a passthrough camera decodes a keyframe for image health and
// the snapshot only every PassthroughLook (not every 2 s), and at once when
// someone asks for a snapshot that is no longer fresh.
func TestPassthroughLooksRarelyAndOnDemand(t *testing.T) {
	var src *codedPattern
	cam, err := NewCamera(CameraConfig{ID: "ip1", Source: "test://pattern?width=160&height=120&fps=15"}, Deps{Health: &stateLog{}, Open: openCodedPattern(&src)})
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
	// The first keyframe is looked at (a snapshot exists at once).
	var first time.Time
	deadline := time.Now().Add(10 * time.Second)
	for first.IsZero() && time.Now().Before(deadline) {
		cam.mu.Lock()
		if cam.snapKey != nil {
			first = cam.snapTime
		}
		cam.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	if first.IsZero() {
		t.Fatal("no snapshot from the first keyframe")
	}
	// 3 s and ~6 keyframes later, no other look happened by itself.
	time.Sleep(3 * time.Second)
	cam.mu.Lock()
	same := cam.snapTime.Equal(first)
	cam.mu.Unlock()
	if !same || src.keys.Load() < 5 {
		t.Fatalf("the camera decoded again within 3 s (keyframes %d): snapshot moved from %v", src.keys.Load(), first)
	}
	// A stale snapshot asked for → the next keyframe is decoded.
	if _, at, err := cam.Snapshot(context.Background()); err != nil || !at.Equal(first) {
		t.Fatalf("snapshot %v %v", at, err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if _, at, _ := cam.Snapshot(context.Background()); at.After(first) {
			cancel()
			<-done
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("an on-demand snapshot did not decode the next keyframe")
}

// openCodedPattern opens a codedPattern and stores it in *src.
func openCodedPattern(src **codedPattern) func(context.Context, string, source.Options) (source.Source, error) {
	return func(ctx context.Context, url string, o source.Options) (source.Source, error) {
		s, err := source.Open(ctx, url, o)
		if err != nil {
			return nil, err
		}
		enc, err := codec.NewEncoder(codec.EncoderConfig{Width: 160, Height: 120, FPS: 15, KeyframeInterval: 500 * time.Millisecond, Threads: 1})
		if err != nil {
			return nil, err
		}
		none, err := mask.New(nil, mask.Options{})
		if err != nil {
			return nil, err
		}
		*src = &codedPattern{raw: s.(source.RawSource), enc: enc, none: none}
		return *src, nil
	}
}

// Issue 14: a passthrough camera nobody watches keeps only the coded
// keyframe of its last look (not a decoded picture: 3 MB per 1080p camera)
// and decodes it when a snapshot is asked for; while someone watches, the
// decoded look is kept. R2: once masks are set, no snapshot made before
// them is ever returned, not even the kept keyframe decoded again.
func TestPassthroughSnapshotFromKeyframeAndNewMasks(t *testing.T) {
	var src *codedPattern
	cam, err := NewCamera(CameraConfig{ID: "ip1", Source: "test://pattern?width=160&height=120&fps=15"},
		Deps{Health: &stateLog{}, Open: openCodedPattern(&src)})
	if err != nil {
		t.Fatal(err)
	}
	r := cam.Hub().Subscribe(1000)
	go func() {
		for range r.C() {
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cam.Run(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		cam.mu.Lock()
		key, snap := cam.snapKey, cam.snap
		cam.mu.Unlock()
		if key != nil {
			if snap != nil {
				t.Fatal("an unwatched passthrough camera kept its decoded look")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no look at the first keyframe")
		}
		time.Sleep(20 * time.Millisecond)
	}
	img, _, err := cam.Snapshot(ctx)
	if err != nil {
		t.Fatalf("snapshot from the kept keyframe: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 160 || b.Dy() != 120 {
		t.Fatalf("snapshot %v", b)
	}
	cam.mu.Lock()
	kept := cam.snap != nil
	cam.mu.Unlock()
	if !kept {
		t.Fatal("a watched camera did not keep the decoded picture")
	}

	// A mask over the left half: from now on every snapshot is either none
	// yet or masked.
	all := []mask.Mask{{Name: "left", Style: mask.StyleFill, Polygon: []mask.Point{{X: 0, Y: 0}, {X: 0.5, Y: 0}, {X: 0.5, Y: 1}, {X: 0, Y: 1}}}}
	set, err := mask.NewSet(all)
	if err != nil {
		t.Fatal(err)
	}
	cam.SetMasks(set)
	masked := 0
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && masked < 3 {
		img, _, err := cam.Snapshot(ctx)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		y := img.(*image.YCbCr)
		f := &media.Frame{Width: 160, Height: 120, Y: y.Y, U: y.Cb, V: y.Cr}
		if res := (MaskCheck{Tolerance: 1, Margin: 1}).Check(f, all); !res.OK {
			t.Fatalf("a snapshot after SetMasks shows the unmasked picture: %+v", res.Masks)
		}
		masked++
		time.Sleep(50 * time.Millisecond)
	}
	if masked == 0 {
		t.Fatal("no masked snapshot within 5 s of SetMasks")
	}
}
