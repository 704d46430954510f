package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"golang.org/x/sys/unix"
)

const (
	benchFrame   = 30 << 10 // bytes per frame
	benchStreams = 4
	benchRing    = 512 << 20
)

func benchFrames(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = mkFrame(byte(i), uint64(i), i%30 == 0, benchFrame*2)[:benchFrame]
	}
	return out
}

// BenchmarkSealedWrite: frames of benchStreams cameras through the store
// (seal, batch, write, fdatasync, index) into a 512 MiB ring. Compare with
// BenchmarkRawWrite (same bytes, same sync cadence, no crypto, no index).
func BenchmarkSealedWrite(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "d")
	if err := Provision(context.Background(), dir, ProvisionOptions{RingSize: benchRing}); err != nil {
		b.Fatal(err)
	}
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	frames := benchFrames(64)
	b.SetBytes(benchFrame)
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := 0; c < benchStreams; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := b.N / benchStreams
			var w *SegmentWriter
			at := t0
			for i := 0; i < n; i++ {
				if i%900 == 0 { // 60 s segments at 15 fps
					if w != nil {
						w.Close()
					}
					w, _ = s.BeginSegment(context.Background(), SegmentMeta{Camera: "cam" + strconv.Itoa(c), Start: at})
				}
				if err := w.WriteFrame(Frame{Time: at, Key: i%900 == 0 || i%30 == 0, Data: frames[i%len(frames)]}); err != nil {
					b.Error(err)
					return
				}
				at = at.Add(66 * time.Millisecond)
			}
			if w != nil {
				w.Close()
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRawWrite writes the same bytes sequentially to a preallocated
// file with one fdatasync per 8 MiB (the store's batch size when it is
// writing flat out).
func BenchmarkRawWrite(b *testing.B) {
	p := filepath.Join(b.TempDir(), "raw")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, benchRing); err != nil {
		f.Truncate(benchRing)
	}
	frames := benchFrames(64)
	buf := make([]byte, 0, 1<<20)
	b.SetBytes(benchFrame)
	b.ResetTimer()
	var off, synced int64
	for i := 0; i < b.N; i++ {
		buf = append(buf, frames[i%len(frames)]...)
		if len(buf) >= 1<<20 || i == b.N-1 {
			if off+int64(len(buf)) > benchRing {
				off = 0
			}
			if _, err := f.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
			off += int64(len(buf))
			synced += int64(len(buf))
			buf = buf[:0]
			if synced >= 8<<20 || i == b.N-1 {
				unix.Fdatasync(int(f.Fd()))
				synced = 0
			}
		}
	}
}

var (
	benchIdxOnce sync.Once
	benchIdxDir  string
	benchIdxErr  error
)

// buildIndex writes n closed segment rows (16 cameras, 60 s each, a
// keyframe every 2 s) straight into a store's index.
func buildIndex(dir string, n int) error {
	if err := Provision(context.Background(), dir, ProvisionOptions{RingSize: 16 << 20}); err != nil {
		return err
	}
	db, err := index.Open(filepath.Join(dir, IndexFile), false)
	if err != nil {
		return err
	}
	defer db.Close()
	const cams = 16
	id := uint64(1)
	for id <= uint64(n) {
		err := db.Update(func(tx *index.Tx) error {
			h, err := tx.Head()
			if err != nil {
				return err
			}
			for k := 0; k < 20000 && id <= uint64(n); k++ {
				cam := int(id % cams)
				start := t0.Add(time.Duration(id/cams) * time.Minute).UnixNano()
				row := &index.Segment{ID: id, Camera: "cam" + strconv.Itoa(cam), Start: start, End: start + int64(59*time.Second),
					Closed: true, Synced: true, EpochDay: "2025-03-10", Key: make([]byte, 72), Chunks: 60, Frames: 900,
					Runs: []index.Run{{LSN: id * 1000, N: 60}}, Bytes: 1 << 20}
				for kf := 0; kf < 30; kf++ {
					row.Keys = append(row.Keys, index.KeyFrame{T: start + int64(kf)*int64(2*time.Second), Chunk: uint32(kf * 2), LSN: id*1000 + uint64(kf)})
				}
				if err := tx.InsertSegment(row); err != nil {
					return err
				}
				h.Segments++
				h.Closed++
				id++
			}
			h.NextSeg = id
			return tx.PutHead(&h)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkSegmentLookup1M: find the segment (and its keyframe) for a time
// with 1 M segments indexed; reports p99 latency. The index is built once
// per process in a temp dir (takes a while).
func BenchmarkSegmentLookup1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("EDGEREC_BENCH_SEGMENTS")); err == nil {
		n = v
	}
	benchIdxOnce.Do(func() {
		benchIdxDir, benchIdxErr = os.MkdirTemp("", "edgerec-bench-idx")
		if benchIdxErr == nil {
			t := time.Now()
			benchIdxErr = buildIndex(filepath.Join(benchIdxDir, "d"), n)
			fmt.Fprintf(os.Stderr, "built %d-segment index in %v\n", n, time.Since(t))
		}
	})
	if benchIdxErr != nil {
		b.Fatal(benchIdxErr)
	}
	s, err := Open(context.Background(), filepath.Join(benchIdxDir, "d"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	span := time.Duration(n/16) * time.Minute
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at := t0.Add(2*time.Minute + time.Duration(uint64(i)*2654435761%uint64((span-3*time.Minute)/time.Second))*time.Second).UnixNano()
		cam := "cam" + strconv.Itoa(i%16)
		t1 := time.Now()
		var found bool
		s.idx.View(func(tx *index.Tx) error {
			id := tx.SegmentAt(cam, at)
			row, err := tx.Segment(id)
			if err != nil {
				return err
			}
			for _, k := range row.Keys {
				if k.T <= at {
					found = true
				}
			}
			return nil
		})
		lat = append(lat, time.Since(t1))
		if !found {
			b.Fatalf("no segment for %v on %s", time.Unix(0, at), cam)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1000, "p50-µs")
}

// BenchmarkRecovery100k: Open (crash recovery) of a store whose index holds
// 100 k segments, 16 of them left open by a "crash".
func BenchmarkRecovery100k(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "d")
	if err := buildIndex(dir, 100_000); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// Leave 16 segments open with real chunks: write, flush, abandon.
		s, err := Open(context.Background(), dir, Options{FlushInterval: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		for c := 0; c < 16; c++ {
			w, err := s.BeginSegment(context.Background(), SegmentMeta{Camera: "open" + strconv.Itoa(c), Start: t0.Add(time.Duration(i) * time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			for f := 0; f < 30; f++ {
				w.WriteFrame(Frame{Time: t0.Add(time.Duration(i)*time.Hour + time.Duration(f)*66*time.Millisecond), Key: f%15 == 0, Data: make([]byte, 4000)})
			}
		}
		s.flush()
		s.crashForBench()
		b.StartTimer()
		t1 := time.Now()
		s, err = Open(context.Background(), dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(t1).Microseconds())/1000, "open-ms")
		if r := s.LastRecovery(); r.OpenSegments != 16 {
			b.Fatalf("recovered %+v", r)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

// crashForBench abandons the store as a SIGKILL would: the flusher stops,
// nothing is sealed or closed, the files are closed.
func (s *Store) crashForBench() {
	s.mu.Lock()
	s.closed = true
	s.pending = nil
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.closeFiles()
}

// BenchmarkRSS16Streams: 16 cameras writing 30 KB frames flat out; reports
// the process's peak RSS (VmHWM) in MiB.
func BenchmarkRSS16Streams(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "d")
	if err := Provision(context.Background(), dir, ProvisionOptions{RingSize: 256 << 20}); err != nil {
		b.Fatal(err)
	}
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	frames := benchFrames(32)
	b.SetBytes(benchFrame)
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := t0
			var w *SegmentWriter
			for i := 0; i < b.N/16; i++ {
				if i%900 == 0 {
					if w != nil {
						w.Close()
					}
					w, _ = s.BeginSegment(context.Background(), SegmentMeta{Camera: "cam" + strconv.Itoa(c), Start: at})
				}
				w.WriteFrame(Frame{Time: at, Key: i%30 == 0, Data: frames[i%len(frames)]})
				at = at.Add(66 * time.Millisecond)
			}
			if w != nil {
				w.Close()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	s.Close()
	st, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(st), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			if kb, err := strconv.Atoi(strings.Fields(l)[1]); err == nil {
				b.ReportMetric(float64(kb)/1024, "peak-RSS-MiB")
			}
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchIdxDir != "" {
		os.RemoveAll(benchIdxDir)
	}
	os.Exit(code)
}
