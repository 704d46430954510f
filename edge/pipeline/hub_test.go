package pipeline

import (
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/media"
)

func testAU(key bool) media.AccessUnit {
	return media.AccessUnit{Data: []byte{0, 0, 0, 1, 0x65}, Key: key, Wall: time.Now()}
}

// TestHubSlowReaderNeverBlocks: a reader that never reads loses access
// units (counted) while a fast reader gets every one, and Publish never
// blocks.
func TestHubSlowReaderNeverBlocks(t *testing.T) {
	h := NewHub()
	fast := h.Subscribe(1000)
	slow := h.Subscribe(2)
	done := make(chan struct{})
	go func() {
		for i := range 500 {
			h.Publish(testAU(i%10 == 0))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow reader")
	}
	if got := len(fast.C()); got != 500 {
		t.Fatalf("fast reader got %d of 500", got)
	}
	if slow.Dropped() == 0 {
		t.Fatal("slow reader dropped nothing")
	}
	if got := len(slow.C()); got != 2 {
		t.Fatalf("slow reader queue %d", got)
	}
	h.Close()
	if _, ok := <-fast.C(); !ok {
		t.Fatal("queued units lost at close")
	}
}

// TestHubResumesAtKeyframe: after a drop a reader skips to the next
// keyframe, so a decoder never sees a P frame without its reference.
func TestHubResumesAtKeyframe(t *testing.T) {
	h := NewHub()
	r := h.Subscribe(1)
	h.Publish(testAU(false)) // before any keyframe: skipped
	if len(r.C()) != 0 {
		t.Fatal("reader started on a non-keyframe")
	}
	h.Publish(testAU(true))
	h.Publish(testAU(false)) // queue full: dropped
	<-r.C()
	h.Publish(testAU(false)) // after a drop: skipped until key
	if len(r.C()) != 0 {
		t.Fatal("reader resumed on a non-keyframe after a drop")
	}
	h.Publish(testAU(true))
	if au := <-r.C(); !au.Key {
		t.Fatal("reader did not resume at a keyframe")
	}
	if r.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", r.Dropped())
	}
	r.Close()
	r.Close()
	h.Publish(testAU(true)) // no panic after reader closed
}
