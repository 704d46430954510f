package codec

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/media"
)

func countDir(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestCodecThreadsReleased: every Decoder and Encoder runs its calls on its
// own C thread and signals through an eventfd (worker.go, issue 14). Many
// codecs used concurrently, then closed, leave no thread and no descriptor
// behind, and each produced what it should.
func TestCodecThreadsReleased(t *testing.T) {
	// Let the runtime's own threads settle before counting.
	warm, _ := NewEncoder(EncoderConfig{Width: 64, Height: 64, FPS: 15})
	warm.Close()
	time.Sleep(100 * time.Millisecond)
	threads0, fds0 := countDir(t, "/proc/self/task"), countDir(t, "/proc/self/fd")

	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc, err := NewEncoder(EncoderConfig{Width: 160, Height: 96, FPS: 15, Pixelated: i%2 == 0})
			if err != nil {
				errs <- err
				return
			}
			defer enc.Close()
			newDec := NewDecoder
			if i%3 == 0 {
				newDec = NewLookDecoder // calls on the caller's thread
			}
			dec, err := newDec()
			if err != nil {
				errs <- err
				return
			}
			defer dec.Close()
			f, _ := media.NewFrame(160, 96)
			got := 0
			for k := range 20 {
				for j := range f.Y {
					f.Y[j] = byte(j*7 + k*3 + i)
				}
				f.PTS = time.Duration(k) * time.Second / 15
				au, ok, err := enc.Encode(f)
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					continue
				}
				pic, err := dec.Decode(au.Data)
				if err != nil {
					errs <- err
					return
				}
				if pic != nil {
					got++
				}
			}
			if got != 20 {
				errs <- fmt.Errorf("codec %d: decoded %d of 20 pictures", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Closed codecs joined their threads and closed their eventfds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		th, fd := countDir(t, "/proc/self/task"), countDir(t, "/proc/self/fd")
		// Go may keep the Ms it started for the goroutines above (idle,
		// at most one per goroutine); C threads would add 2 per pair.
		if fd <= fds0 && th <= threads0+n {
			t.Logf("threads %d → %d, descriptors %d → %d", threads0, th, fds0, fd)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing %d encoder/decoder pairs: threads %d → %d, descriptors %d → %d", n, threads0, th, fds0, fd)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A closed codec refuses work instead of touching freed memory.
	enc, _ := NewEncoder(EncoderConfig{Width: 64, Height: 64, FPS: 15})
	enc.Close()
	f, _ := media.NewFrame(64, 64)
	if _, _, err := enc.Encode(f); err == nil {
		t.Fatal("encode after Close: no error")
	}
	dec, _ := NewDecoder()
	dec.Close()
	if _, err := dec.Decode([]byte{0, 0, 0, 1, 0x65, 0x88}); err == nil {
		t.Fatal("decode after Close: no error")
	}
}
