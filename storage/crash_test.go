package storage

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var longTests = flag.Bool("long", false, "run the long crash test (2000 cycles)")

const (
	crashEnv       = "EDGEREC_STORAGE_CRASH_CHILD"
	crashFlush     = 50 * time.Millisecond
	crashChunk     = 16 << 10
	crashFrameSize = 5000 // mkFrame size parameter: 2500..5000 bytes
	crashFrameGap  = 4 * time.Millisecond
	crashGOP       = 10
	crashSegFrames = 45
)

var crashCams = []string{"front", "back", "dock"}

// TestCrashChild is the child process of TestCrashRecovery: it opens the
// store (running recovery), records three cameras as fast as a busy gateway
// would, and appends "seq unixnano" to one progress file per camera after
// every WriteFrame that returned nil, until the parent SIGKILLs it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child of TestCrashRecovery")
	}
	var logger *slog.Logger
	if os.Getenv(crashEnv+"_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := Open(context.Background(), dir, Options{FlushInterval: crashFlush, ChunkSize: crashChunk, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	fmt.Println("ready")
	var wg sync.WaitGroup
	for ci, cam := range crashCams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prog, err := os.OpenFile(filepath.Join(dir, "progress-"+cam), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(4)
			}
			seq := uint64(time.Now().UnixNano()) // unique across restarts
			var last time.Time
			for {
				start := time.Now()
				w, err := s.BeginSegment(context.Background(), SegmentMeta{Camera: cam, Start: start, ClockSynced: true})
				if err != nil {
					fmt.Fprintln(os.Stderr, "begin:", err)
					os.Exit(5)
				}
				for i := 0; i < crashSegFrames; i++ {
					now := time.Now()
					if now.Before(last) {
						now = last
					}
					last = now
					key := i%crashGOP == 0
					if err := w.WriteFrame(Frame{Time: now, Key: key, Data: mkFrame(byte(ci), seq, key, crashFrameSize)}); err != nil {
						fmt.Fprintln(os.Stderr, "write:", err)
						os.Exit(6)
					}
					fmt.Fprintf(prog, "%d %d %d\n", seq, now.UnixNano(), time.Now().UnixNano())
					seq++
					time.Sleep(crashFrameGap)
				}
				if err := w.Close(); err != nil {
					fmt.Fprintln(os.Stderr, "close:", err)
					os.Exit(7)
				}
			}
		}()
	}
	wg.Wait()
}

// ack is one progress line: a frame whose WriteFrame returned nil.
type ack struct{ frame, acked int64 }

// acks returns the complete progress lines of a camera.
func acks(dir, cam string) []ack {
	b, err := os.ReadFile(filepath.Join(dir, "progress-"+cam))
	if err != nil {
		return nil
	}
	var out []ack
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		a, err1 := strconv.ParseInt(f[1], 10, 64)
		c, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			out = append(out, ack{a, c})
		}
	}
	return out
}

// flushes returns start and end of every flush the child completed (from
// its debug log).
func flushes(log string) (starts, ends []time.Time) {
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "msg=flush ") {
			continue
		}
		var at time.Time
		var took time.Duration
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "time="); ok {
				at, _ = time.Parse(time.RFC3339Nano, v)
			}
			if v, ok := strings.CutPrefix(f, "took="); ok {
				took, _ = time.ParseDuration(v)
			}
		}
		if !at.IsZero() {
			starts = append(starts, at.Add(-took))
			ends = append(ends, at)
		}
	}
	return starts, ends
}

// D4, R5: a child records while the parent SIGKILLs it at random moments
// (also during startup recovery and segment close). After every restart:
// Check passes, every indexed segment plays to its end with exactly the
// frames the child wrote, and what was lost per camera is at most the flush
// interval plus one chunk (plus a tolerance of one more flush interval for
// the flush in flight and scheduling on a loaded machine). 200 cycles; 2000
// with -long.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	cycles := 200
	if *longTests {
		cycles = 2000
	}
	if testing.Short() {
		cycles = 30
	}
	dir := provision(t, ProvisionOptions{RingSize: 4 << 20})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	// One chunk of frames: a chunk holds at most crashChunk bytes of frames
	// of at least crashFrameSize/2 bytes, a frame every crashFrameGap.
	chunkSpan := time.Duration(crashChunk/(crashFrameSize/2)+1) * (crashFrameGap + time.Millisecond)
	bound := crashFlush + chunkSpan
	tolerance := crashFlush
	var worst, maxInflight time.Duration
	var kills, earlyKills, recovered int
	for cycle := 0; cycle < cycles; cycle++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashEnv+"_DEBUG=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		early := rng.IntN(6) == 0 // kill during startup/recovery
		if early {
			earlyKills++
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		} else {
			ready := make(chan bool, 1)
			go func() {
				line, _ := bufio.NewReader(out).ReadString('\n')
				ready <- strings.HasPrefix(line, "ready")
			}()
			select {
			case ok := <-ready:
				if !ok {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("cycle %d: child did not start: %s", cycle, stderr.String())
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("cycle %d: child not ready: %s", cycle, stderr.String())
			}
			time.Sleep(time.Duration(10+rng.IntN(200)) * time.Millisecond)
		}
		killedAt := time.Now()
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("cycle %d: child exited by itself (%v): %s", cycle, err, stderr.String())
		}
		kills++

		s, err := Open(context.Background(), dir, Options{FlushInterval: crashFlush})
		if err != nil {
			t.Fatalf("cycle %d: open after kill: %v", cycle, err)
		}
		if s.LastRecovery().OpenSegments > 0 {
			recovered++
		}
		rep, err := s.Check(context.Background(), CheckOptions{})
		if err != nil || !rep.OK() {
			s.Close()
			t.Fatalf("cycle %d: check after kill: %v\n%s", cycle, err, rep)
		}
		segs, err := s.Segments(context.Background(), "", time.Unix(0, 0), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		newest := map[string]time.Time{}
		for _, g := range segs {
			if !g.Closed {
				t.Fatalf("cycle %d: segment %d still open after recovery", cycle, g.ID)
			}
			ci := -1
			for i, c := range crashCams {
				if c == g.Camera {
					ci = i
				}
			}
			n := 0
			var prevSeq uint64
			var last time.Time
			err := s.ReadSegment(context.Background(), g.ID, func(f Frame) error {
				cam, seq, ok := frameSeq(f.Data)
				if !ok || int(cam) != ci {
					return fmt.Errorf("frame %d: not a frame of %s", n, g.Camera)
				}
				if n > 0 && seq != prevSeq+1 {
					return fmt.Errorf("frame %d: seq %d after %d (gap inside a segment)", n, seq, prevSeq)
				}
				if !bytes.Equal(f.Data, mkFrame(cam, seq, f.Key, crashFrameSize)) || f.Key != (n%crashGOP == 0) {
					return fmt.Errorf("frame %d: content differs", n)
				}
				prevSeq, last = seq, f.Time
				n++
				return nil
			})
			if err != nil {
				t.Fatalf("cycle %d: segment %d of %s does not play to its end: %v", cycle, g.ID, g.Camera, err)
			}
			if n != g.Frames || !last.Equal(g.End) {
				t.Fatalf("cycle %d: segment %d played %d frames to %v, index says %d to %v", cycle, g.ID, n, last, g.Frames, g.End)
			}
			if last.After(newest[g.Camera]) {
				newest[g.Camera] = last
			}
		}
		for _, cam := range crashCams {
			// Strict: a frame acknowledged before the start of the last
			// flush the child completed was sealed into that flush (the
			// flusher seals every writer's buffer when it starts) and must
			// have been recovered.
			as := acks(dir, cam)
			starts, ends := flushes(stderr.String())
			if len(starts) > 0 {
				last := starts[len(starts)-1].Add(-time.Millisecond).UnixNano() // log time has ms precision
				for _, a := range as {
					if a.acked < last && a.frame > newest[cam].UnixNano() {
						s.Close()
						t.Fatalf("cycle %d: camera %s: frame at %v acknowledged before the last completed flush (started %v) was lost",
							cycle, cam, time.Unix(0, a.frame), starts[len(starts)-1])
					}
				}
			}
			// Bound: acknowledged frames newer than the newest recovered,
			// from the first lost frame to the last acknowledged one.
			var lost time.Duration
			for _, a := range as {
				if a.frame > newest[cam].UnixNano() {
					lost = time.Duration(as[len(as)-1].frame-a.frame) + crashFrameGap
					break
				}
			}
			// A flush in flight at the kill (slow fsync on a shared disk)
			// adds its own duration: time from the last completed flush to
			// the kill, beyond one interval.
			inflight := time.Duration(0)
			if len(ends) > 0 {
				inflight = killedAt.Sub(ends[len(ends)-1]) - crashFlush
			}
			allow := bound + max(tolerance, inflight+tolerance)
			if inflight > maxInflight {
				maxInflight = inflight
			}
			if lost > worst {
				worst = lost
			}
			if lost > allow {
				s.Close()
				t.Fatalf("cycle %d (early kill %v): camera %s lost %v of acknowledged footage (bound %v + tolerance %v, flush in flight %v); recovery: %+v\nchild log:\n%s",
					cycle, early, cam, lost, bound, tolerance, inflight, s.LastRecovery(), tailLines(stderr.String(), 15))
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", cycle, err)
		}
		// Start the next child from an empty progress log so the bound is
		// measured against this cycle's acknowledgements only.
		for _, cam := range crashCams {
			os.Remove(filepath.Join(dir, "progress-"+cam))
		}
	}
	rep, err := CheckDir(context.Background(), dir, CheckOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("final CheckDir: %v\n%s", err, rep)
	}
	t.Logf("%d kills (%d during startup), %d restarts recovered open segments, worst loss %v (bound %v + tolerance %v; longest flush in flight at a kill %v), %s",
		kills, earlyKills, recovered, worst, bound, tolerance, maxInflight, strings.TrimSpace(rep.String()))
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
