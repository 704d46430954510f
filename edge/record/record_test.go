package record

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/pipeline/pipelinetest"
	"github.com/edgerec/edgerec/edge/schedule"
	"github.com/edgerec/edgerec/storage"
)

// chanFeed is a hub reader of a pipeline camera without masks fed by the
// test (pipelinetest: the only way to publishable video), with a drop
// count the test sets.
type chanFeed struct {
	ch      chan<- media.AccessUnit
	r       *pipeline.Reader
	dropped atomic.Uint64
}

func newFeed(t *testing.T) *chanFeed {
	in := make(chan media.AccessUnit, 1000)
	return &chanFeed{ch: in, r: pipelinetest.Passthrough(t, in).Subscribe(1000)}
}

// settle waits until the camera and the reader have handed on every unit
// sent so far (the recorder may still be writing the last).
func (f *chanFeed) settle(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	for (len(f.ch) > 0 || len(f.r.C()) > 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *chanFeed) C() <-chan pipeline.Video { return f.r.C() }
func (f *chanFeed) Dropped() uint64          { return f.dropped.Load() }

func newStore(t *testing.T) *storage.Store {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(ctx, dir, storage.Options{FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func au(at time.Time, key bool, tag byte) media.AccessUnit {
	nal := byte(0x41)
	if key {
		nal = 0x65
	}
	return media.AccessUnit{Data: []byte{0, 0, 0, 1, nal, tag, 1, 2, 3}, Key: key, Wall: at}
}

// TestSegmenterCuts: segments start at keyframes, are cut at the first
// keyframe after MaxSegment, at a clock jump and after a reader drop, and
// the open segment is closed on shutdown (D4).
func TestSegmenterCuts(t *testing.T) {
	store := newStore(t)
	feed := newFeed(t)
	ctx, cancel := context.WithCancel(context.Background())
	rec := New(Config{Camera: "cam1", MaxSegment: 4 * time.Second, MaxJump: 5 * time.Second}, store, feed)
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()

	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Two P frames before the first keyframe are not recorded.
	feed.ch <- au(at(0), false, 0)
	feed.ch <- au(at(100), false, 0)
	// 0.2 s .. 9.8 s: keyframe every 2 s, frame every 200 ms.
	for ms := 200; ms < 10000; ms += 200 {
		feed.ch <- au(at(ms), (ms-200)%2000 == 0, byte(ms/200))
	}
	// A clock jump of 60 s forward, then a keyframe.
	feed.ch <- au(at(70000), true, 1)
	feed.ch <- au(at(70200), false, 2)
	feed.settle(t)
	time.Sleep(100 * time.Millisecond)
	// A drop: the next unit is a keyframe (the hub guarantees it).
	feed.dropped.Add(3)
	feed.ch <- au(at(71000), true, 3)
	feed.ch <- au(at(71200), false, 4)
	feed.settle(t)
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	segs, err := store.Segments(context.Background(), "cam1", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Duration
	for _, s := range segs {
		if !s.Closed {
			t.Errorf("segment %d not closed after shutdown", s.ID)
		}
		starts = append(starts, s.Start.Sub(t0))
	}
	want := []time.Duration{200 * time.Millisecond, 4200 * time.Millisecond, 8200 * time.Millisecond, 70 * time.Second, 71 * time.Second}
	if len(starts) != len(want) {
		t.Fatalf("segment starts %v, want %v", starts, want)
	}
	for i := range want {
		if starts[i] != want[i] {
			t.Fatalf("segment starts %v, want %v", starts, want)
		}
	}
	// Every frame from the first keyframe on is stored, in order.
	n := 0
	var last time.Time
	err = store.ReadFrames(context.Background(), "cam1", t0, t0.Add(time.Hour), func(f storage.Frame) error {
		if !f.Time.After(last) {
			t.Errorf("frame at %v not after %v", f.Time, last)
		}
		last = f.Time
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 49+2+2 {
		t.Fatalf("read %d frames, want 53", n)
	}
}

// Issue 18: a recording window that closes mid-stream stops recording at
// the boundary (the wall times of the units are the injected clock);
// nothing outside the window is stored, it is not counted as a drop or a
// gap, and recording resumes at the first keyframe after the window opens
// again.
func TestScheduleStopsAtTheBoundary(t *testing.T) {
	store := newStore(t)
	feed := newFeed(t)
	t0 := time.Date(2026, 12, 7, 17, 59, 50, 0, time.UTC) // Monday 18:59:50 in Berlin
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// On until 19:00 local, off 19:00–19:01, on again from 19:01.
	sched, err := schedule.New([]schedule.Window{
		{Days: []time.Weekday{time.Monday}, From: 8 * 60, To: 19 * 60},
		{Days: []time.Weekday{time.Monday}, From: 19*60 + 1, To: 20 * 60},
	}, berlin)
	if err != nil {
		t.Fatal(err)
	}
	var changes []bool
	rec := New(Config{Camera: "cam1", MaxSegment: time.Hour, Schedule: sched, OnSchedule: func(on bool) { changes = append(changes, on) }}, store, feed)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// 17:59:50 .. 18:01:20 UTC, a frame every 200 ms, a keyframe every 2 s.
	for ms := 0; ms < 90000; ms += 200 {
		feed.ch <- au(at(ms), ms%2000 == 0, byte(ms/200))
	}
	feed.settle(t)
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	boundary := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC) // 19:00 Berlin
	reopen := time.Date(2026, 12, 7, 18, 1, 0, 0, time.UTC)   // 19:01 Berlin
	var times []time.Time
	if err := store.ReadFrames(context.Background(), "cam1", t0.Add(-time.Hour), t0.Add(time.Hour), func(f storage.Frame) error {
		times = append(times, f.Time)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, x := range times {
		if !x.Before(boundary) && x.Before(reopen) {
			t.Fatalf("frame at %s recorded while the schedule was off (19:00–19:01 Berlin)", x.In(berlin))
		}
	}
	before, after := 0, 0
	for _, x := range times {
		if x.Before(boundary) {
			before++
		} else {
			after++
		}
	}
	// 50 frames 17:59:50.0 .. 17:59:59.8; 100 frames 18:01:00.0 .. 18:01:19.8
	// (18:01:00 is a keyframe).
	if before != 50 || after != 100 {
		t.Fatalf("recorded %d frames before the boundary and %d after reopening, want 50 and 100", before, after)
	}
	segs, err := store.Segments(context.Background(), "cam1", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || !segs[1].Start.Equal(reopen) {
		t.Fatalf("segments %+v, want two, the second starting at %s", segs, reopen)
	}
	if rec.ScheduledOff() != 300 || rec.Gaps() != 0 || feed.Dropped() != 0 {
		t.Fatalf("scheduled off %d (want 300), gaps %d, dropped %d", rec.ScheduledOff(), rec.Gaps(), feed.Dropped())
	}
	if len(changes) != 2 || changes[0] || !changes[1] {
		t.Fatalf("schedule changes %v, want [false true]", changes)
	}
}
