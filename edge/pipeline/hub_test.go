package pipeline

import (
	"runtime"
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
			h.Publish(passthrough(testAU(i%10 == 0)))
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
	h.Publish(passthrough(testAU(false))) // before any keyframe: skipped
	if len(r.C()) != 0 {
		t.Fatal("reader started on a non-keyframe")
	}
	h.Publish(passthrough(testAU(true)))
	h.Publish(passthrough(testAU(false))) // queue full: dropped
	<-r.C()
	h.Publish(passthrough(testAU(false))) // after a drop: skipped until key
	if len(r.C()) != 0 {
		t.Fatal("reader resumed on a non-keyframe after a drop")
	}
	h.Publish(passthrough(testAU(true)))
	if v := <-r.C(); !v.AU().Key {
		t.Fatal("reader did not resume at a keyframe")
	}
	if r.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", r.Dropped())
	}
	r.Close()
	r.Close()
	h.Publish(passthrough(testAU(true))) // no panic after reader closed
}

// Issue 14 bad input: bursts of 2 MB access units to a reader that does
// not keep up (the recorder's queue is 256 units): its queue stays within
// DefaultReaderBytes, not 256 × 2 MB; the rest is dropped and counted, the
// heap stays bounded, and the reader gets units again once it has read.
func TestHubReaderBoundedInBytes(t *testing.T) {
	h := NewHub()
	r := h.Subscribe(256)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := range 300 {
		h.Publish(passthrough(media.AccessUnit{Data: make([]byte, 2<<20), Key: i%25 == 0}))
		if q := len(r.C()) * (2 << 20); q > DefaultReaderBytes {
			t.Fatalf("unit %d: %d bytes queued, bound %d", i, q, DefaultReaderBytes)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	grew := int64(m1.HeapInuse) - int64(m0.HeapInuse)
	t.Logf("queued %d units; dropped %d; heap in use grew %d MiB", len(r.C()), r.Dropped(), grew>>20)
	if len(r.C()) != DefaultReaderBytes/(2<<20) || r.Dropped() == 0 {
		t.Fatalf("queued %d units, dropped %d", len(r.C()), r.Dropped())
	}
	if grew > 64<<20 { // generous: the queue's 32 MiB
		t.Fatalf("heap in use grew by %d MiB", grew>>20)
	}
	for len(r.C()) > 0 {
		<-r.C()
	}
	h.Publish(passthrough(media.AccessUnit{Data: make([]byte, 2<<20), Key: true}))
	if len(r.C()) != 1 {
		t.Fatal("after reading, the reader gets units again")
	}
	// A single unit larger than the bound still passes into an empty queue.
	r2 := h.SubscribeBytes(4, 1<<20)
	h.Publish(passthrough(media.AccessUnit{Data: make([]byte, 2<<20), Key: true}))
	if len(r2.C()) != 1 {
		t.Fatal("a unit larger than the bound must pass into an empty queue")
	}
}
