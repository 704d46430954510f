package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/storage/index"
)

// D4, R8: a ring of a few MiB recording for many laps keeps exactly the
// newest data (every segment whose bytes are still in the last lap, and no
// other), the index matches the ring, and held segments survive the laps.
func TestWrapAroundKeepsNewestAndHolds(t *testing.T) {
	dir := provision(t, ProvisionOptions{RingSize: 4 << 20, HoldSize: 512 << 10})
	s := openStore(t, dir, Options{ChunkSize: 32 << 10})
	defer s.Close()
	ctx := context.Background()
	type segRec struct {
		w     written
		first uint64
	}
	var mu sync.Mutex
	var recs []segRec
	var held written
	heldOnce := false
	cams := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for ci, cam := range cams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seq uint64
			for k := 0; k < 40; k++ {
				start := t0.Add(time.Duration(k) * 5 * time.Second)
				w := recordSegment(t, s, cam, byte(ci), &seq, start, 60, 20, 6000, 66*time.Millisecond)
				var first uint64
				s.idx.View(func(tx *index.Tx) error {
					row, err := tx.Segment(w.id)
					first = row.FirstLSN
					return err
				})
				mu.Lock()
				recs = append(recs, segRec{w, first})
				if cam == "a" && k == 1 && !heldOnce {
					heldOnce = true
					held = w
					mu.Unlock()
					if _, err := s.Hold(ctx, "a", start, start.Add(time.Second), "case-42"); err != nil {
						t.Errorf("hold: %v", err)
					}
					continue
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	laps := float64(st.HeadLSN) / float64(st.RingBytes)
	if laps < 5 {
		t.Fatalf("only %.1f laps", laps)
	}
	t.Logf("%.1f laps, %d segments indexed, %d bytes used of %d", laps, st.Segments, st.UsedBytes, st.RingBytes)
	tail := st.HeadLSN - uint64(st.RingBytes)
	var want []uint64
	for _, r := range recs {
		if r.first >= tail || r.w.id == held.id {
			want = append(want, r.w.id)
		}
	}
	slices.Sort(want)
	all, err := s.Segments(ctx, "", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, g := range all {
		got = append(got, g.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("indexed segments %v\nwant (first chunk in the last lap, or held) %v", got, want)
	}
	if st.UsedBytes > st.RingBytes {
		t.Fatalf("used %d > ring %d", st.UsedBytes, st.RingBytes)
	}
	// Every indexed segment plays in full and matches what was written.
	byID := map[uint64]written{}
	for _, r := range recs {
		byID[r.w.id] = r.w
	}
	for _, g := range all {
		var fr []Frame
		if err := s.ReadSegment(ctx, g.ID, func(f Frame) error { fr = append(fr, f); return nil }); err != nil {
			t.Fatalf("segment %d: %v", g.ID, err)
		}
		if err := sameFrames(fr, byID[g.ID].frames); err != nil {
			t.Fatalf("segment %d: %v", g.ID, err)
		}
	}
	// The held segment was moved to the hold area and is still intact.
	hs, _ := s.Segments(ctx, "a", held.frames[0].Time, held.frames[0].Time.Add(time.Millisecond))
	if len(hs) != 1 || hs[0].ID != held.id || !hs[0].Held || !hs[0].InHoldArea {
		t.Fatalf("held segment: %+v", hs)
	}
	if st.HoldUsed == 0 {
		t.Fatal("hold area unused")
	}
	mustCheck(t, s, false)

	// Releasing the hold drops the copy and frees the hold area.
	if err := s.ReleaseHold(ctx, 1, "other-grant"); !errors.Is(err, ErrHoldRef) {
		t.Fatalf("release with the wrong reference: %v", err)
	}
	if err := s.ReleaseHold(ctx, 1, "case-42"); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.HoldUsed != 0 {
		t.Fatalf("hold area still used: %d", st.HoldUsed)
	}
	if err := s.ReadSegment(ctx, held.id, func(Frame) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("released segment still readable: %v", err)
	}
	mustCheck(t, s, false)
}

// R8: a hold the hold area cannot take is refused up front.
func TestR8HoldAreaBounded(t *testing.T) {
	dir := provision(t, ProvisionOptions{RingSize: 4 << 20, HoldSize: 256 << 10})
	s := openStore(t, dir, Options{})
	defer s.Close()
	var seq uint64
	for k := 0; k < 4; k++ {
		recordSegment(t, s, "a", 1, &seq, t0.Add(time.Duration(k)*time.Minute), 30, 10, 6000, 66*time.Millisecond)
	}
	ctx := context.Background()
	if _, err := s.Hold(ctx, "a", t0, t0.Add(time.Minute), "g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hold(ctx, "a", t0.Add(time.Minute), t0.Add(10*time.Minute), "g2"); !errors.Is(err, ErrHoldFull) {
		t.Fatalf("oversized hold: %v", err)
	}
	if _, err := s.Hold(ctx, "a", t0.Add(time.Hour), t0.Add(2*time.Hour), "g3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("hold on nothing: %v", err)
	}
	hs, err := s.Holds(ctx)
	if err != nil || len(hs) != 1 || hs[0].Ref != "g1" || len(hs[0].Segments) != 1 {
		t.Fatalf("holds %+v %v", hs, err)
	}
	mustCheck(t, s, false)
	_ = fmt.Sprint()
}
