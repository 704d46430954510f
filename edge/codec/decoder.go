package codec

// #cgo CFLAGS: -I${SRCDIR}/include
// #include <stdlib.h>
// #include "decoder_c.h"
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/edgerec/edgerec/edge/media"
	// The encoder package puts the static libopenh264 archive on the link
	// line; the decoder below lives in the same archive.
	_ "github.com/pion/mediadevices/pkg/codec/openh264"
)

// ErrDecode reports a bitstream the decoder could not decode.
var ErrDecode = errors.New("codec: h264 decode failed")

// Decoder decodes an H.264 Annex-B stream into I420 frames. It is not safe
// for concurrent use; Close releases the C decoder.
type Decoder struct {
	mu   sync.Mutex
	dec  *C.edgerec_dec
	done *done
	// broken: a job's end could not be awaited; never used again.
	broken bool
	// in is a C copy of the access unit being decoded, reused and grown
	// as needed (openh264 must not see Go memory across the call).
	in    unsafe.Pointer
	inCap int
}

// NewDecoder creates an openh264 decoder for a stream: its calls run on
// its own C thread (see the package documentation, "Threads").
func NewDecoder() (*Decoder, error) { return newDecoder(true) }

// NewLookDecoder creates a decoder for a picture or two (a passthrough
// camera's keyframe look): its calls are plain cgo calls on the caller's
// thread. A thread per look kept more C memory (one more thread's malloc
// state each time) for no gain: a single call does not keep the Go
// scheduler's sysmon busy the way a stream of them does.
func NewLookDecoder() (*Decoder, error) { return newDecoder(false) }

func newDecoder(threaded bool) (*Decoder, error) {
	var d *C.edgerec_dec
	th := C.int(0)
	if threaded {
		th = 1
	}
	if rv := C.edgerec_dec_new(&d, th); rv != 0 {
		return nil, fmt.Errorf("codec: WelsCreateDecoder: code %d", int(rv))
	}
	dd := &Decoder{dec: d}
	if threaded {
		dd.done = newDone(d.w.efd, "openh264-decoder")
	}
	return dd, nil
}

// Decode feeds one access unit (Annex-B) and returns the decoded picture,
// or nil when the decoder needs more data (for example parameter sets
// only). The returned frame is a copy owned by the caller.
func (d *Decoder) Decode(au []byte) (*media.Frame, error) { return d.DecodeInto(au, nil) }

// DecodeInto is Decode writing the picture into dst when dst has the
// picture's size (then it returns dst), so that a caller can reuse frame
// buffers; with a nil or differently sized dst it returns a new frame.
// PTS and Wall of the returned frame are left as they were. When no
// picture is ready it returns nil and leaves dst untouched.
func (d *Decoder) DecodeInto(au []byte, dst *media.Frame) (*media.Frame, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dec == nil {
		return nil, fmt.Errorf("%w: decoder closed", ErrDecode)
	}
	if len(au) == 0 {
		return nil, nil
	}
	if len(au) > d.inCap {
		C.free(d.in)
		d.in = C.malloc(C.size_t(len(au)))
		if d.in == nil {
			d.inCap = 0
			return nil, fmt.Errorf("%w: out of memory for a %d-byte access unit", ErrDecode, len(au))
		}
		d.inCap = len(au)
	}
	copy(unsafe.Slice((*byte)(d.in), len(au)), au)
	if err := d.run((*C.uchar)(d.in), len(au), false); err != nil {
		return nil, err
	}
	if st := d.dec.st; st != 0 {
		return nil, fmt.Errorf("%w: decoding state 0x%x", ErrDecode, int(st))
	}
	return copyPicture(&d.dec.pic, dst)
}

// run hands one call to the decoder's C thread and waits for it in Go's
// poller (worker.go). The input is C memory, the picture the decoder's.
func (d *Decoder) run(src *C.uchar, n int, flush bool) error {
	if d.broken {
		return fmt.Errorf("%w: decoder unusable after a failed wait", ErrDecode)
	}
	fl := C.int(0)
	if flush {
		fl = 1
	}
	if d.done == nil {
		C.edgerec_dec_call(d.dec, src, C.int(n), fl)
		return nil
	}
	if C.edgerec_dec_submit(d.dec, src, C.int(n), fl) != 0 {
		return fmt.Errorf("%w: decoder thread busy", ErrDecode)
	}
	if err := d.done.wait(); err != nil {
		d.broken = true
		return fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return nil
}

// Flush returns a picture still held by the decoder, if any.
func (d *Decoder) Flush() (*media.Frame, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dec == nil {
		return nil, nil
	}
	if err := d.run(nil, 0, true); err != nil {
		return nil, err
	}
	if st := d.dec.st; st != 0 {
		return nil, fmt.Errorf("%w: flush state 0x%x", ErrDecode, int(st))
	}
	return copyPicture(&d.dec.pic, nil)
}

// Close frees the decoder. It is safe to call twice.
func (d *Decoder) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broken {
		// the C thread may still use the decoder and the input: leave
		// both (a leak, never a use after free)
		d.dec, d.in, d.inCap = nil, nil, 0
		return nil
	}
	if d.dec != nil {
		C.edgerec_dec_free(d.dec) // stops and joins its thread first
		if d.done != nil {
			d.done.close()
		}
		d.dec = nil
	}
	C.free(d.in)
	d.in, d.inCap = nil, 0
	return nil
}

func copyPicture(pic *C.edgerec_picture, dst *media.Frame) (*media.Frame, error) {
	if pic.ready == 0 {
		return nil, nil
	}
	w, h := int(pic.width), int(pic.height)
	f := dst
	if f == nil || f.Width != w || f.Height != h || len(f.Y) != w*h || len(f.U) != w*h/4 || len(f.V) != w*h/4 {
		var err error
		if f, err = media.NewFrame(w, h); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDecode, err)
		}
	}
	ys, cs := int(pic.ystride), int(pic.cstride)
	y := unsafe.Slice((*byte)(unsafe.Pointer(pic.y)), ys*h)
	u := unsafe.Slice((*byte)(unsafe.Pointer(pic.u)), cs*h/2)
	v := unsafe.Slice((*byte)(unsafe.Pointer(pic.v)), cs*h/2)
	for r := 0; r < h; r++ {
		copy(f.Y[r*w:(r+1)*w], y[r*ys:r*ys+w])
	}
	cw := w / 2
	for r := 0; r < h/2; r++ {
		copy(f.U[r*cw:(r+1)*cw], u[r*cs:r*cs+cw])
		copy(f.V[r*cw:(r+1)*cw], v[r*cs:r*cs+cw])
	}
	return f, nil
}
