package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// t0 is the start of synthetic footage.
var t0 = time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)

// sps is the SPS NAL (with start code) of the synthetic input; it must never
// appear in the ring.
var sps = []byte{0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40}
var pps = []byte{0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80}

// mkFrame returns a deterministic H.264-looking access unit for camera cam,
// sequence seq: keyframes carry SPS, PPS and an IDR slice. Its payload
// encodes (cam, seq) so a reader can verify it. Sizes vary 1–size bytes.
func mkFrame(cam byte, seq uint64, key bool, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(cam), seq))
	n := size/2 + r.IntN(size/2+1)
	var b bytes.Buffer
	if key {
		b.Write(sps)
		b.Write(pps)
		b.Write([]byte{0, 0, 0, 1, 0x65})
	} else {
		b.Write([]byte{0, 0, 0, 1, 0x41})
	}
	b.WriteByte(cam)
	binary.Write(&b, binary.LittleEndian, seq)
	for b.Len() < n {
		// Low-entropy payload (like real slices, mostly small values) so
		// that a leak would be visible to the randomness test.
		b.WriteByte(byte(r.IntN(16)))
	}
	return b.Bytes()
}

func frameSeq(d []byte) (cam byte, seq uint64, ok bool) {
	i := bytes.Index(d, []byte{0, 0, 0, 1, 0x65})
	if i < 0 {
		i = bytes.Index(d, []byte{0, 0, 0, 1, 0x41})
	}
	if i < 0 || len(d) < i+5+9 {
		return 0, 0, false
	}
	p := d[i+5:]
	return p[0], binary.LittleEndian.Uint64(p[1:9]), true
}

func provision(t testing.TB, o ProvisionOptions) string {
	t.Helper()
	dir := t.TempDir() + "/data"
	if o.RingSize == 0 {
		o.RingSize = 8 << 20
	}
	if err := Provision(context.Background(), dir, o); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return dir
}

func openStore(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	if o.FlushInterval == 0 {
		o.FlushInterval = 20 * time.Millisecond
	}
	s, err := Open(context.Background(), dir, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// written records what a test handed to the store.
type written struct {
	cam    string
	id     uint64
	frames []Frame
}

// recordSegment writes n frames (keyframe every gop) starting at start,
// frame interval dt, and closes the segment.
func recordSegment(t testing.TB, s *Store, cam string, camByte byte, seq *uint64, start time.Time, n, gop, size int, dt time.Duration) written {
	t.Helper()
	w, err := s.BeginSegment(context.Background(), SegmentMeta{Camera: cam, Start: start, ClockSynced: true})
	if err != nil {
		t.Fatalf("begin %s: %v", cam, err)
	}
	out := written{cam: cam, id: w.ID()}
	for i := 0; i < n; i++ {
		f := Frame{Time: start.Add(time.Duration(i) * dt), Key: i%gop == 0, Data: mkFrame(camByte, *seq, i%gop == 0, size)}
		*seq++
		if err := w.WriteFrame(f); err != nil {
			t.Fatalf("write %s frame %d: %v", cam, i, err)
		}
		out.frames = append(out.frames, f)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close segment: %v", err)
	}
	return out
}

func readAll(t testing.TB, s *Store, cam string, from, to time.Time) ([]Frame, error) {
	t.Helper()
	var got []Frame
	err := s.ReadFrames(context.Background(), cam, from, to, func(f Frame) error {
		got = append(got, f)
		return nil
	})
	return got, err
}

func sameFrames(a, b []Frame) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d frames, want %d", len(a), len(b))
	}
	for i := range a {
		if !a[i].Time.Equal(b[i].Time) || a[i].Key != b[i].Key || !bytes.Equal(a[i].Data, b[i].Data) {
			return fmt.Errorf("frame %d differs", i)
		}
	}
	return nil
}

func mustCheck(t testing.TB, s *Store, quick bool) CheckReport {
	t.Helper()
	rep, err := s.Check(context.Background(), CheckOptions{Quick: quick})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("check found damage:\n%s", rep)
	}
	return rep
}
