package storage

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// R5, D4: what goes in comes out, for both ciphers, across a reopen, with
// several cameras writing concurrently through the single ring head.
func TestR5RoundTripBothCiphers(t *testing.T) {
	for _, c := range []string{"aes-256-gcm", "xchacha20-poly1305"} {
		t.Run(c, func(t *testing.T) {
			dir := provision(t, ProvisionOptions{Cipher: c})
			s := openStore(t, dir, Options{ChunkSize: 16 << 10})
			if got := s.Stats().Cipher; got != c {
				t.Fatalf("cipher %q, want %q", got, c)
			}
			var mu sync.Mutex
			all := map[string][]Frame{}
			var wg sync.WaitGroup
			for ci, cam := range []string{"cam-a", "cam-b", "cam-c"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var seq uint64
					for k := 0; k < 3; k++ {
						start := t0.Add(time.Duration(k) * 10 * time.Second)
						w := recordSegment(t, s, cam, byte(ci), &seq, start, 100, 30, 3000, 66*time.Millisecond)
						mu.Lock()
						all[cam] = append(all[cam], w.frames...)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, dir, Options{})
			defer s.Close()
			for cam, want := range all {
				got, err := readAll(t, s, cam, t0.Add(-time.Hour), t0.Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if err := sameFrames(got, want); err != nil {
					t.Fatalf("%s: %v", cam, err)
				}
				segs, err := s.Segments(context.Background(), cam, t0.Add(-time.Hour), t0.Add(time.Hour))
				if err != nil || len(segs) != 3 {
					t.Fatalf("%s: %d segments, %v", cam, len(segs), err)
				}
				for _, g := range segs {
					if !g.Closed || g.Recovered || g.Frames != 100 || !g.ClockSynced {
						t.Fatalf("segment %+v", g)
					}
				}
				// Coverage: three segments 10 s apart, each 6.6 s long → three spans.
				cov, err := s.Coverage(context.Background(), cam, t0, t0.Add(time.Minute))
				if err != nil || len(cov) != 3 {
					t.Fatalf("coverage %v %v", cov, err)
				}
			}
			st := s.Stats()
			if st.Segments != 9 || st.ClosedSegments != 9 || !st.Oldest.Equal(t0) {
				t.Fatalf("stats %+v", st)
			}
			mustCheck(t, s, false)
			mustCheck(t, s, true)
		})
	}
}

// ReadFrames starts at the keyframe at or before from and stops before to.
func TestReadFramesSeeksToKeyframe(t *testing.T) {
	dir := provision(t, ProvisionOptions{})
	s := openStore(t, dir, Options{ChunkSize: 8 << 10})
	defer s.Close()
	var seq uint64
	w := recordSegment(t, s, "cam", 1, &seq, t0, 120, 30, 2000, 100*time.Millisecond)
	// from = frame 75 (keyframes at 0, 30, 60, 90) → must start at 60.
	from := t0.Add(75 * 100 * time.Millisecond)
	to := t0.Add(95 * 100 * time.Millisecond)
	got, err := readAll(t, s, "cam", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameFrames(got, w.frames[60:95]); err != nil {
		t.Fatal(err)
	}
	if !got[0].Key {
		t.Fatal("first frame is not a keyframe")
	}
	// Exactly on a keyframe.
	got, _ = readAll(t, s, "cam", t0.Add(90*100*time.Millisecond), t0.Add(time.Hour))
	if err := sameFrames(got, w.frames[90:]); err != nil {
		t.Fatal(err)
	}
	// Before the segment: from its start.
	got, _ = readAll(t, s, "cam", t0.Add(-time.Minute), t0.Add(time.Second))
	if err := sameFrames(got, w.frames[:10]); err != nil {
		t.Fatal(err)
	}
	if err := s.ReadSegment(context.Background(), w.id+100, func(Frame) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing segment: %v", err)
	}
}

func TestWriterContract(t *testing.T) {
	dir := provision(t, ProvisionOptions{})
	s := openStore(t, dir, Options{})
	defer s.Close()
	ctx := context.Background()
	w, err := s.BeginSegment(ctx, SegmentMeta{Camera: "c", Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginSegment(ctx, SegmentMeta{Camera: "c", Start: t0}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second writer: %v", err)
	}
	if err := w.WriteFrame(Frame{Time: t0, Data: []byte{1}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("non-key first frame: %v", err)
	}
	if err := w.WriteFrame(Frame{Time: t0, Key: true, Data: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(Frame{Time: t0.Add(-time.Second), Data: []byte{1}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("time going back: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(Frame{Time: t0.Add(time.Second), Data: []byte{1}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	// A segment without frames leaves no row.
	w, _ = s.BeginSegment(ctx, SegmentMeta{Camera: "c", Start: t0.Add(time.Hour)})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Segments != 1 {
		t.Fatalf("%d segments", st.Segments)
	}
	mustCheck(t, s, false)
}
