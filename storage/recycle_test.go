package storage

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Issue 14: sealed-chunk buffers are recycled once the flusher has written
// them. Several cameras sealing small chunks under frequent flushes reuse
// each other's buffers many times; every frame must read back byte for
// byte from the disk after a reopen (a buffer handed back before its bytes
// were written, or shared by two chunks, shows up as a frame that fails
// authentication or differs).
func TestSealedBuffersRecycledIntact(t *testing.T) {
	dir := provision(t, ProvisionOptions{RingSize: 32 << 20})
	s := openStore(t, dir, Options{ChunkSize: 4 << 10, FlushInterval: 2 * time.Millisecond})
	const cams, frames = 4, 400
	want := make([][]Frame, cams)
	errs := make(chan error, cams)
	var wg sync.WaitGroup
	for c := range cams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cam := fmt.Sprintf("cam%d", c)
			w, err := s.BeginSegment(context.Background(), SegmentMeta{Camera: cam, Start: t0, ClockSynced: true})
			if err != nil {
				errs <- err
				return
			}
			for i := range frames {
				f := Frame{Time: t0.Add(time.Duration(i) * 66 * time.Millisecond), Key: i%30 == 0, Data: mkFrame(byte(c), uint64(i), i%30 == 0, 3000)}
				if err := w.WriteFrame(f); err != nil {
					errs <- fmt.Errorf("%s frame %d: %w", cam, i, err)
					return
				}
				want[c] = append(want[c], f)
				if i%20 == 0 {
					time.Sleep(time.Millisecond) // let flushes interleave with sealing
				}
			}
			if err := w.Close(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, Options{})
	defer s.Close()
	for c := range cams {
		cam := fmt.Sprintf("cam%d", c)
		got, err := readAll(t, s, cam, t0, t0.Add(time.Hour))
		if err != nil {
			t.Fatalf("%s: %v", cam, err)
		}
		if err := sameFrames(got, want[c]); err != nil {
			t.Fatalf("%s: %v", cam, err)
		}
	}
	mustCheck(t, s, false)
}
