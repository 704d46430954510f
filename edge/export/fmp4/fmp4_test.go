package fmp4

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// 64×64 baseline parameter sets (x264) and a second SPS (another id
// byte, as openh264 gives every IDR); slices are filler: the muxer copies
// access units without decoding them.
var (
	sps  = []byte{0x67, 0x42, 0xc0, 0x0a, 0xd9, 0x04, 0x26, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x78, 0x3c, 0x48, 0x99, 0x20}
	pps  = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
	pps2 = []byte{0x68, 0xce, 0x38, 0x80}
	t0   = time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
)

func au(key bool, p []byte) []byte {
	sc := []byte{0, 0, 0, 1}
	b := append(append([]byte{}, sc...), 0x09, 0xf0) // AUD, dropped
	if key {
		b = append(append(append(b, sc...), sps...), append(sc, p...)...)
		return append(append(b, sc...), 0x65, 0x88, 0x84, 0x7c)
	}
	return append(append(b, sc...), 0x41, 0x9a, 0x21, 0x6c)
}

func mux(t *testing.T, cfg Config, frames []time.Time, key func(i int) bool, params func(i int) []byte) ([]Sample, Stats, []byte) {
	t.Helper()
	var out bytes.Buffer
	m := New(&out, cfg)
	for i, at := range frames {
		p := pps
		if params != nil {
			p = params(i)
		}
		if err := m.WriteFrame(at, key(i), au(key(i), p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Samples(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return s, m.Stats(), out.Bytes()
}

// Issue 15: times are rounded once per frame from the origin (no drift at
// 30 000/1001 fps), a gap holds the frame before it, times never go back,
// the last frame lasts the interval before it clipped at End, nothing
// before the first keyframe, one fragment per GOP.
func TestTiming(t *testing.T) {
	var at []time.Time
	for i := 0; i < 40; i++ {
		at = append(at, t0.Add(time.Duration(i)*1001*time.Second/30000))
	}
	at = append(at, t0.Add(5*time.Second))                  // after a gap
	at = append(at, t0.Add(5*time.Second-time.Millisecond)) // clock stepped back
	key := func(i int) bool { return i%10 == 3 }
	s, st, b := mux(t, Config{End: t0.Add(time.Minute)}, at, key, nil)
	if len(s) != len(at)-3 || st.Frames != len(s) || !st.Start.Equal(at[3]) || st.Keyframes != 4 || st.Fragments != 4 || st.Inits != 1 {
		t.Fatalf("%d samples, stats %+v", len(s), st)
	}
	if bytes.Contains(b, []byte{0, 0, 0, 2, 0x09, 0xf0}) {
		t.Fatal("AUD kept")
	}
	for i := 3; i < 40; i++ {
		want := Ticks(at[i].Sub(at[3]))
		if s[i-3].DTS != want {
			t.Fatalf("frame %d at %d ticks, want %d", i, s[i-3].DTS, want)
		}
		if s[i-3].Key != key(i) {
			t.Fatalf("frame %d key %v", i, s[i-3].Key)
		}
	}
	gapFrame := s[len(s)-3]
	if gapFrame.DTS+int64(gapFrame.Duration) != Ticks(5*time.Second-at[3].Sub(t0)) {
		t.Fatalf("the frame before the gap lasts %d ticks, not until the footage resumes", gapFrame.Duration)
	}
	back, last := s[len(s)-2], s[len(s)-1]
	if back.Duration != 1 || last.DTS != back.DTS+1 {
		t.Fatalf("stepped-back frame at %d (previous %d for %d)", last.DTS, back.DTS, back.Duration)
	}
	if last.Duration != 1 || !st.End.Equal(at[3].Add(time.Duration(last.DTS+1)*time.Second/Timescale)) {
		t.Fatalf("last frame lasts %d ticks (the interval before it: 1), End %s", last.Duration, st.End)
	}
	// Clipped at End: the last frame would last 1/15 s.
	s, st, _ = mux(t, Config{End: at[20].Add(10 * time.Millisecond)}, at[:21], key, nil)
	if got, want := s[len(s)-1].DTS+int64(s[len(s)-1].Duration), Ticks(at[20].Add(10*time.Millisecond).Sub(at[3])); got != want || st.End.After(at[20].Add(10*time.Millisecond)) {
		t.Fatalf("last frame ends at %d ticks, want clipped at %d", got, want)
	}
}

// A GOP longer than MaxFragmentFrames is cut; an Origin before the first
// frame shifts every time by the same amount.
func TestFragmentCapAndOrigin(t *testing.T) {
	var at []time.Time
	for i := 0; i < MaxFragmentFrames+5; i++ {
		at = append(at, t0.Add(time.Duration(i)*time.Second/15))
	}
	s, st, _ := mux(t, Config{Origin: t0.Add(-2 * time.Second)}, at, func(i int) bool { return i == 0 }, nil)
	if st.Fragments != 2 || len(s) != len(at) || s[0].DTS != 2*Timescale || s[len(s)-1].Duration != Timescale/15 {
		t.Fatalf("stats %+v, first at %d, last lasts %d", st, s[0].DTS, s[len(s)-1].Duration)
	}
}

// Changed parameter sets: a file keeps one init segment (in-band SPS/PPS
// stay), a stream for MSE gets a new one before that GOP.
func TestParameterSetChange(t *testing.T) {
	var at []time.Time
	for i := 0; i < 30; i++ {
		at = append(at, t0.Add(time.Duration(i)*time.Second/15))
	}
	key := func(i int) bool { return i%10 == 0 }
	params := func(i int) []byte {
		if i >= 20 {
			return pps2
		}
		return pps
	}
	var inits []int
	for _, stream := range []bool{false, true} {
		s, st, b := mux(t, Config{NewInitOnChange: stream, OnInit: func(tr Track) error {
			if tr.Width != 64 || tr.Height != 64 || tr.Codec != "avc1.42c00a" {
				t.Errorf("track %+v", tr)
			}
			return nil
		}}, at, key, params)
		if len(s) != 30 || !bytes.Contains(b, pps2) {
			t.Fatalf("%d samples", len(s))
		}
		inits = append(inits, st.Inits, bytes.Count(b, []byte("moov")))
	}
	if inits[0] != 1 || inits[1] != 1 || inits[2] != 2 || inits[3] != 2 {
		t.Fatalf("init segments (file, moov in file, stream, moov in stream) = %v", inits)
	}
}

// Nothing is written without a keyframe with parameter sets; a broken
// access unit is ErrBadStream; OnInit's error stops the muxer.
func TestRefusals(t *testing.T) {
	var out bytes.Buffer
	m := New(&out, Config{})
	if err := m.WriteFrame(t0, false, au(false, nil)); err != nil || out.Len() != 0 {
		t.Fatalf("delta frame first: %v, %d bytes", err, out.Len())
	}
	if err := m.Close(); err != nil || out.Len() != 0 || m.Stats().Started {
		t.Fatalf("close without keyframe: %v, %d bytes", err, out.Len())
	}
	m = New(&out, Config{})
	if err := m.WriteFrame(t0, true, []byte{0, 0, 0, 1}); !errors.Is(err, ErrBadStream) {
		t.Fatalf("empty access unit: %v", err)
	}
	stop := errors.New("client gone")
	m = New(&out, Config{OnInit: func(Track) error { return stop }})
	if err := m.WriteFrame(t0, true, au(true, pps)); !errors.Is(err, stop) {
		t.Fatalf("OnInit error: %v", err)
	}
}
