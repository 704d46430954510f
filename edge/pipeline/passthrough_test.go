package pipeline

import (
	"context"
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
	open := func(ctx context.Context, url string, o source.Options) (source.Source, error) {
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
		src = &codedPattern{raw: s.(source.RawSource), enc: enc, none: none}
		return src, nil
	}
	cam, err := NewCamera(CameraConfig{ID: "ip1", Source: "test://pattern?width=160&height=120&fps=15"}, Deps{Health: &stateLog{}, Open: open})
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
		if cam.snap != nil {
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
	if _, at, err := cam.Snapshot(); err != nil || !at.Equal(first) {
		t.Fatalf("snapshot %v %v", at, err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if _, at, _ := cam.Snapshot(); at.After(first) {
			cancel()
			<-done
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("an on-demand snapshot did not decode the next keyframe")
}
