package codec

// #cgo LDFLAGS: -lpthread
// #include "worker_c.h"
import "C"

import (
	"fmt"
	"io"
	"os"
)

// Why the codec runs on its own C threads (issue 14, masked CPU): a decode
// or encode takes milliseconds. Made as a plain cgo call it holds a Go
// scheduler P in the "syscall" state all that time; the runtime's sysmon
// thread then retakes that P (handoffp) and, having found work, keeps
// polling every 20 µs instead of backing off to 10 ms. Measured on one
// masked 720p camera (2-core VM, per-thread CPU from /proc): sysmon alone
// used 16–20 % of the daemon's CPU. Now each Decoder and Encoder owns one
// C thread (worker.c) that runs its calls; the Go caller hands it a job in
// a short cgo call and waits for an eventfd in Go's network poller, so no
// P is held and sysmon sleeps.

// done is the Go end of a worker's eventfd.
type done struct {
	f   *os.File
	buf [8]byte
}

// newDone wraps the worker's non-blocking eventfd, which Go's poller then
// owns (os.NewFile registers a non-blocking descriptor with the poller).
func newDone(fd C.int, name string) *done {
	return &done{f: os.NewFile(uintptr(fd), name)}
}

// wait parks the goroutine until the worker has finished its job.
func (d *done) wait() error {
	if _, err := io.ReadFull(d.f, d.buf[:]); err != nil {
		return fmt.Errorf("codec: waiting for the codec thread: %w", err)
	}
	return nil
}

func (d *done) close() { _ = d.f.Close() }
