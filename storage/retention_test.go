package storage

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/keys"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// R6, R8: with an injected clock, footage older than the retention age
// leaves the index and its epoch key is destroyed (unreadable even with the
// old row and the root key); a held segment survives retention and stays
// readable through its hold key; releasing the hold erases it.
func TestR6RetentionByEpochErase(t *testing.T) {
	dir := provision(t, ProvisionOptions{})
	day0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: day0}
	s := openStore(t, dir, Options{Now: clk.Now})
	defer s.Close()
	ctx := context.Background()
	var seq uint64
	segs := map[string][]written{}
	for d := 0; d < 5; d++ {
		for ci, cam := range []string{"a", "b"} {
			start := day0.AddDate(0, 0, d).Add(12 * time.Hour)
			clk.Set(start)
			segs[cam] = append(segs[cam], recordSegment(t, s, cam, byte(ci), &seq, start, 30, 15, 2000, 66*time.Millisecond))
		}
	}
	// Hold cam a, day 1.
	heldW := segs["a"][1]
	hid, err := s.Hold(ctx, "a", heldW.frames[0].Time, heldW.frames[0].Time.Add(time.Minute), "grant-7")
	if err != nil {
		t.Fatal(err)
	}
	var oldRow index.Segment // cam a, day 0: keep its row to prove the key is gone
	s.idx.View(func(tx *index.Tx) error { oldRow, err = tx.Segment(segs["a"][0].id); return err })

	// Now = day 4, 13:00. Ceiling for a: 48 h → cutoff day 2 13:00.
	clk.Set(day0.AddDate(0, 0, 4).Add(13 * time.Hour))
	rep, err := s.ApplyRetention(ctx, map[string]time.Duration{"a": 48 * time.Hour, "b": 72 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// a: days 0,1 erased (day 2's key lives until day 2 is wholly past the cutoff);
	// rows of days 0 and 2 deleted, day 1 held. b: cutoff day 1 13:00 → day 0 erased, row of day 0 and 1 deleted.
	erased := map[EpochRef]bool{}
	for _, e := range rep.ErasedEpochs {
		erased[e] = true
	}
	for _, e := range []EpochRef{{"a", "2025-03-01", 0}, {"a", "2025-03-02", 0}, {"b", "2025-03-01", 0}} {
		if !erased[e] {
			t.Fatalf("epoch %v not erased: %+v", e, rep)
		}
	}
	if len(rep.ErasedEpochs) != 3 || rep.Deleted != 4 || rep.KeptHeld != 1 {
		t.Fatalf("report %+v", rep)
	}
	// Out of the index.
	got, _ := s.Segments(ctx, "a", day0, day0.AddDate(0, 0, 3))
	if len(got) != 1 || got[0].ID != heldW.id || !got[0].Held {
		t.Fatalf("cam a after retention: %+v", got)
	}
	fr, err := readAll(t, s, "a", day0, day0.Add(24*time.Hour))
	if err != nil || len(fr) != 0 {
		t.Fatalf("expired footage readable: %d frames, %v", len(fr), err)
	}
	// Unreadable: the epoch key is gone, so even the old row cannot be opened.
	if _, err := s.ks.EpochKey(keys.EpochID{Camera: "a", Day: "2025-03-01"}, false); !errors.Is(err, keys.ErrErased) {
		t.Fatalf("epoch key still there: %v", err)
	}
	if err := s.idx.View(func(tx *index.Tx) error { _, err := s.segmentKey(tx, &oldRow); return err }); !errors.Is(err, ErrKeyErased) {
		t.Fatalf("old segment key: %v", err)
	}
	// The held segment still plays, through its hold key.
	var held []Frame
	if err := s.ReadSegment(ctx, heldW.id, func(f Frame) error { held = append(held, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := sameFrames(held, heldW.frames); err != nil {
		t.Fatal(err)
	}
	// Newer footage untouched.
	if fr, _ := readAll(t, s, "a", day0.AddDate(0, 0, 3), day0.AddDate(0, 0, 5)); len(fr) != 60 {
		t.Fatalf("recent footage: %d frames", len(fr))
	}
	mustCheck(t, s, false)

	// A day later day 2 of a is erased too.
	clk.Set(day0.AddDate(0, 0, 5).Add(13 * time.Hour))
	rep, err = s.ApplyRetention(ctx, map[string]time.Duration{"a": 48 * time.Hour})
	if err != nil || len(rep.ErasedEpochs) != 1 || rep.ErasedEpochs[0].Day != "2025-03-03" || rep.Deleted != 1 {
		t.Fatalf("second run %+v %v", rep, err)
	}
	// Releasing the hold erases the held segment (its epoch is gone).
	if err := s.ReleaseHold(ctx, hid, "grant-7"); err != nil {
		t.Fatal(err)
	}
	if s.ks.HoldExists(hid) {
		t.Fatal("hold key survived the release")
	}
	if err := s.ReadSegment(ctx, heldW.id, func(Frame) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("released segment: %v", err)
	}
	mustCheck(t, s, false)
	// New footage for an erased day gets a new key generation, never the old key.
	w := recordSegment(t, s, "a", 0, &seq, day0.Add(18*time.Hour), 15, 15, 1000, 66*time.Millisecond)
	s.idx.View(func(tx *index.Tx) error {
		row, _ := tx.Segment(w.id)
		if row.EpochGen != 1 {
			t.Errorf("epoch generation %d, want 1", row.EpochGen)
		}
		return nil
	})
	if _, err := s.ApplyRetention(ctx, map[string]time.Duration{"a": 0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero retention: %v", err)
	}
}

// R7: the horizon follows the observed bitrate.
func TestR7Horizon(t *testing.T) {
	dir := provision(t, ProvisionOptions{RingSize: 16 << 20})
	s := openStore(t, dir, Options{})
	defer s.Close()
	if h := s.Horizon(); h.Known {
		t.Fatalf("horizon known without footage: %+v", h)
	}
	var seq uint64
	// 10 segments of 10 s at 15 fps, ~3 KB frames → ≈ 45 KB/s.
	var bytes int64
	for k := 0; k < 10; k++ {
		w := recordSegment(t, s, "a", 1, &seq, t0.Add(time.Duration(k)*10*time.Second), 150, 30, 4000, time.Second/15)
		for _, f := range w.frames {
			bytes += int64(len(f.Data))
		}
	}
	h := s.Horizon()
	span := 100 * time.Second
	rate := float64(bytes) / span.Seconds()
	want := time.Duration(float64(h.RingBytes) / rate * float64(time.Second))
	if !h.Known || h.Duration < want*8/10 || h.Duration > want*12/10 {
		t.Fatalf("horizon %+v, want ≈ %v", h, want)
	}
	if !h.Below(want*2) || h.Below(want/2) {
		t.Fatalf("Below: %+v", h)
	}
	t.Logf("horizon %v at %.0f B/s", h.Duration, h.BytesPerSecond)
}
