package codec

// #cgo CFLAGS: -I${SRCDIR}/include
// #include <stdlib.h>
// #include "encoder_c.h"
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/edgerec/edgerec/edge/media"
)

// Name is the codec implementation compiled into this binary.
const Name = "openh264 2.1.1 (static, software)"

// ErrEncode reports an encoder failure.
var ErrEncode = errors.New("codec: h264 encode failed")

// EncoderConfig sets up an encoder for one camera.
type EncoderConfig struct {
	Width, Height    int
	FPS              float64
	BitrateKbps      int           // default 1500
	KeyframeInterval time.Duration // default 2 s
	// Threads is openh264's thread count; 0 means 1. openh264 threads
	// work per slice and the encoder codes one slice per picture, so more
	// threads only add overhead; a masked camera already uses two cores
	// (decode and encode run as separate stages).
	Threads int
	// Pixelated says the pictures hold pixelation cells: the encoder then
	// runs at medium complexity, which codes the quantized cells flat.
	// Without it the encoder runs at low complexity, about 10–15 % cheaper
	// and still exact for fill (issue 14; see the package documentation).
	Pixelated bool
}

func (c EncoderConfig) withDefaults() (EncoderConfig, error) {
	if c.Width <= 0 || c.Height <= 0 || c.Width%2 != 0 || c.Height%2 != 0 {
		return c, fmt.Errorf("%w: size %dx%d must be positive and even", ErrEncode, c.Width, c.Height)
	}
	if c.FPS <= 0 || c.FPS > 120 || math.IsNaN(c.FPS) {
		return c, fmt.Errorf("%w: fps %v outside (0, 120]", ErrEncode, c.FPS)
	}
	if c.Threads <= 0 {
		c.Threads = 1
	}
	if c.BitrateKbps == 0 {
		c.BitrateKbps = 1500
	}
	if c.KeyframeInterval == 0 {
		c.KeyframeInterval = 2 * time.Second
	}
	return c, nil
}

// Encoder settings that keep masked macroblocks flat (see the package
// documentation, "Masks and the encoder"): medium complexity when the
// picture has pixelation cells (the low one leaves cells with a standard
// deviation up to 3; fill stays exact at low complexity since masks are
// grown to macroblocks with a guard ring) and no background detection (it
// marks a macroblock as static background and keeps skipping it, so coding
// noise from a keyframe stays for the whole GOP).
const (
	encComplexityPixelated = C.MEDIUM_COMPLEXITY
	encComplexityFill      = C.LOW_COMPLEXITY
	encBackground          = 0
	// Deblocking off: with the guard ring it no longer matters for fill,
	// and between pixelation cells of different values it smooths 3 px on
	// each side of every cell edge (the largest part of the cell standard
	// deviation measured).
	encLoopFilter = 1
)

// Encoder turns masked I420 frames into H.264 access units (Annex-B, IDR
// with SPS/PPS in band every KeyframeInterval). Not safe for concurrent use.
type Encoder struct {
	mu  sync.Mutex
	cfg EncoderConfig
	enc *C.edgerec_enc
	gop int
	n   int
	// since counts pictures since the last IDR; the encoder itself has
	// no IDR period (openh264's is 0): Encode forces one every gop
	// pictures or when asked, so NextKeyframe knows in advance.
	since  int
	forced bool
	info   media.StreamInfo
	done   *done
	// broken is set when a job's end could not be awaited: the C thread
	// may still read the pictures, so the encoder is never used again.
	broken bool
	leaked *runtime.Pinner
}

// NewEncoder creates an openh264 encoder.
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	gop := int(math.Round(cfg.KeyframeInterval.Seconds() * cfg.FPS))
	if gop < 1 {
		gop = 1
	}
	var x *C.edgerec_enc
	complexity := C.int(encComplexityFill)
	if cfg.Pixelated {
		complexity = encComplexityPixelated
	}
	rv := C.edgerec_enc_new(C.edgerec_enc_opts{
		width: C.int(cfg.Width), height: C.int(cfg.Height), fps: C.float(cfg.FPS),
		bitrate: C.int(cfg.BitrateKbps * 1000), intra_period: 0, threads: C.int(cfg.Threads),
		complexity: complexity, background: encBackground, loop_filter: encLoopFilter,
	}, &x)
	if rv != 0 {
		return nil, fmt.Errorf("%w: WelsCreateSVCEncoder/InitializeExt: code %d", ErrEncode, int(rv))
	}
	return &Encoder{cfg: cfg, enc: x, gop: gop, done: newDone(x.w.efd, "openh264-encoder"), info: media.StreamInfo{Codec: "h264", Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS}}, nil
}

// Info describes the stream this encoder produces.
func (e *Encoder) Info() media.StreamInfo { return e.info }

// Encode encodes one picture. It returns ok=false when the encoder
// produced no output for this picture. The picture's planes are read in
// place (no copy); the access unit is a fresh Go slice.
//
// The codec does not know about masks (issue 15): what may be encoded for
// recording is decided by edge/pipeline, whose publishable Video type is
// made only from the encoding of a masked picture or from a passthrough
// camera that has no masks (R2).
func (e *Encoder) Encode(f *media.Frame) (au media.AccessUnit, ok bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f == nil {
		return au, false, fmt.Errorf("%w: empty picture", ErrEncode)
	}
	if f.Width != e.cfg.Width || f.Height != e.cfg.Height {
		return au, false, fmt.Errorf("%w: picture %dx%d, encoder set up for %dx%d", ErrEncode, f.Width, f.Height, e.cfg.Width, e.cfg.Height)
	}
	if e.enc == nil {
		return au, false, fmt.Errorf("%w: encoder closed", ErrEncode)
	}
	if len(f.Y) != f.Width*f.Height || len(f.U) != f.Width*f.Height/4 || len(f.V) != len(f.U) {
		return au, false, fmt.Errorf("%w: malformed %dx%d picture", ErrEncode, f.Width, f.Height)
	}
	if e.broken {
		return au, false, fmt.Errorf("%w: encoder unusable after a failed wait", ErrEncode)
	}
	key := e.nextKey()
	force := C.int(0)
	if key && e.n > 0 {
		force = 1
	}
	// The planes stay where they are: pinned, the encoder's thread reads
	// them while this goroutine waits in the poller (worker.go).
	var pin runtime.Pinner
	pin.Pin(&f.Y[0])
	pin.Pin(&f.U[0])
	pin.Pin(&f.V[0])
	if C.edgerec_enc_submit(e.enc, (*C.uchar)(unsafe.Pointer(&f.Y[0])), (*C.uchar)(unsafe.Pointer(&f.U[0])), (*C.uchar)(unsafe.Pointer(&f.V[0])),
		C.int(f.Width), C.int(f.Height), C.longlong(f.PTS/time.Millisecond), force) != 0 {
		pin.Unpin()
		return au, false, fmt.Errorf("%w: encoder thread busy", ErrEncode)
	}
	if err := e.done.wait(); err != nil {
		e.broken, e.leaked = true, &pin // keep the pins: the thread may still read them
		return au, false, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	pin.Unpin()
	rv, out, n := e.enc.rv, e.enc.out, e.enc.len
	if rv != 0 {
		return au, false, fmt.Errorf("%w: EncodeFrame: code %d", ErrEncode, int(rv))
	}
	e.n++
	if key {
		e.since, e.forced = 0, false
	}
	e.since++
	if n == 0 {
		return au, false, nil
	}
	data := C.GoBytes(unsafe.Pointer(out), n)
	return media.AccessUnit{Data: data, PTS: f.PTS, Wall: f.Wall, Key: IsKeyframe(data)}, true, nil
}

// ForceKeyframe makes the next picture an IDR.
func (e *Encoder) ForceKeyframe() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.forced = true
}

// NextKeyframe reports whether the next picture given to Encode will be
// coded as an IDR (the first one, every KeyframeInterval, or after
// ForceKeyframe). A masker refreshes its pixelation cells then (see
// mask.Masker.ApplyHeld).
func (e *Encoder) NextKeyframe() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nextKey()
}

func (e *Encoder) nextKey() bool { return e.n == 0 || e.forced || e.since >= e.gop }

// Close releases the encoder.
func (e *Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.enc != nil && !e.broken {
		C.edgerec_enc_free(e.enc) // stops and joins its thread first
		e.done.close()
	}
	e.enc = nil
	return nil
}
