// Package pipelinetest gives tests of the pipeline's readers (the recorder,
// the live view) publishable video the only way there is: test access units
// go through a real pipeline camera without masks, whose passthrough the
// policy allows (R2). There is no other way to make a pipeline.Video
// outside edge/pipeline, and this package adds none.
package pipelinetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/source"
)

// Passthrough starts a camera without masks whose source yields the access
// units sent on in, and returns its hub; subscribe before sending. It stops
// when the test ends (closing in ends the source; the camera restarts and
// waits).
func Passthrough(t testing.TB, in <-chan media.AccessUnit) *pipeline.Hub {
	t.Helper()
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{ID: "test", Source: "test://units"}, pipeline.Deps{
		Open: func(context.Context, string, source.Options) (source.Source, error) { return chanSource{in}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = cam.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("pipelinetest: the camera did not stop")
		}
	})
	return cam.Hub()
}

// chanSource is a coded source reading a channel.
type chanSource struct{ in <-chan media.AccessUnit }

func (chanSource) Info() media.StreamInfo { return media.StreamInfo{} }
func (chanSource) Close() error           { return nil }

func (s chanSource) ReadAU(ctx context.Context) (media.AccessUnit, error) {
	select {
	case au, ok := <-s.in:
		if !ok {
			return media.AccessUnit{}, errors.New("pipelinetest: input closed")
		}
		return au, nil
	case <-ctx.Done():
		return media.AccessUnit{}, ctx.Err()
	}
}

// Feed is a finished stream of publishable video: a record.Feed and a
// live.Feed.
type Feed struct{ ch chan pipeline.Video }

// C is the stream; it closes after the last unit.
func (f Feed) C() <-chan pipeline.Video { return f.ch }

// Dropped is 0: the feed loses nothing.
func (f Feed) Dropped() uint64 { return 0 }

// Close does nothing (the stream ends by itself).
func (f Feed) Close() {}

// Units passes aus through a passthrough camera and returns them as a
// feed that closes after the last one, so a recorder's Run returns once
// it has written them all. Units before the first keyframe are not
// published (a hub reader starts at a keyframe).
func Units(t testing.TB, aus []media.AccessUnit) Feed {
	t.Helper()
	first := len(aus)
	for i, au := range aus {
		if au.Key {
			first = i
			break
		}
	}
	want := len(aus) - first
	in := make(chan media.AccessUnit, len(aus))
	r := Passthrough(t, in).SubscribeBytes(len(aus)+1, 1<<40)
	for _, au := range aus {
		in <- au
	}
	f := Feed{ch: make(chan pipeline.Video)}
	go func() {
		defer close(f.ch)
		defer r.Close()
		for n := 0; n < want; n++ {
			select {
			case v, ok := <-r.C():
				if !ok {
					t.Errorf("pipelinetest: the camera stopped after %d of %d units", n, want)
					return
				}
				f.ch <- v
			case <-time.After(30 * time.Second):
				t.Errorf("pipelinetest: the camera published %d of %d units", n, want)
				return
			}
		}
	}()
	return f
}
