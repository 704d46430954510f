package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors. They are wrapped with the device path and the cause.
var (
	// ErrUnsupported: this build has no V4L2 capture (not Linux, or built
	// without cgo, which pion/mediadevices' driver needs).
	ErrUnsupported = errors.New("camera: V4L2 capture is not in this build (needs linux and CGO_ENABLED=1)")
	// ErrNoDevice: no capture device at that path.
	ErrNoDevice = errors.New("camera: no such capture device")
	// ErrBusy: the device is in use (by this process or another).
	ErrBusy = errors.New("camera: device busy")
	// ErrNoFormat: the device offers nothing matching what was asked.
	ErrNoFormat = errors.New("camera: no matching format")
	// ErrTimeout: no picture arrived within the capture's timeout. The
	// capture stays usable; the picture being waited for may still come.
	ErrTimeout = errors.New("camera: no picture within the timeout")
	// ErrCapture: the device or driver failed (unplugged, stopped, a
	// broken picture). The capture is dead from then on: close it and
	// open the device again.
	ErrCapture = errors.New("camera: capture failed")
	// ErrClosed: the capture was closed.
	ErrClosed = errors.New("camera: capture closed")
)

// PixelFormat is a picture layout a device delivers.
type PixelFormat string

// The pixel formats this package converts to I420.
const (
	YUYV  PixelFormat = "YUYV"  // packed 4:2:2, Y0 U Y1 V
	NV12  PixelFormat = "NV12"  // 4:2:0, Y plane then interleaved U V
	I420  PixelFormat = "I420"  // 4:2:0, Y, U and V planes (V4L2 YU12)
	MJPEG PixelFormat = "MJPEG" // one JPEG per picture
)

// PixelFormats lists the supported pixel formats, cheapest to convert first.
func PixelFormats() []PixelFormat { return []PixelFormat{I420, NV12, YUYV, MJPEG} }

// ParsePixelFormat accepts a pixel format name in any letter case.
func ParsePixelFormat(s string) (PixelFormat, error) {
	for _, p := range PixelFormats() {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("camera: unknown pixel format %q (want yuyv, nv12, i420 or mjpeg)", s)
}

// cost ranks pixel formats by conversion work (lower is cheaper).
func (p PixelFormat) cost() int {
	for i, q := range PixelFormats() {
		if p == q {
			return i
		}
	}
	return len(PixelFormats())
}

// Format is one way a device can deliver pictures. FPS 0 means the device
// did not say.
type Format struct {
	PixelFormat PixelFormat
	Width       int
	Height      int
	FPS         float64
}

func (f Format) String() string {
	s := fmt.Sprintf("%s %dx%d", f.PixelFormat, f.Width, f.Height)
	if f.FPS > 0 {
		s += fmt.Sprintf("@%g", f.FPS)
	}
	return s
}

// Device is a V4L2 capture device.
type Device struct {
	Path    string // /dev/videoN
	Label   string // the driver's card name, e.g. "vivid" or "HD Pro Webcam C920"
	Bus     string // the driver's bus info, e.g. "usb-0000:01:00.0-1.3"
	Formats []Format
	// Err is why the formats could not be read (e.g. ErrBusy); nil when
	// Formats is complete.
	Err error
}

// Defaults Best aims at when a wish leaves a field zero: 720p at 15 fps,
// the recorder's usual stream.
const (
	DefaultWidth  = 1280
	DefaultHeight = 720
	DefaultFPS    = 15
)

// Best returns the format among have that is closest to want. A zero field
// in want means "no preference" (size and rate then aim at DefaultWidth x
// DefaultHeight at DefaultFPS). The pixel format, when given, must match;
// size and rate are matched as closely as the device allows, in that order
// (size first, then rate, then the cheapest pixel format to convert).
func Best(have []Format, want Format) (Format, error) {
	f, why := best(have, want)
	if why != "" {
		return Format{}, fmt.Errorf("%w: %s", ErrNoFormat, why)
	}
	return f, nil
}

// best is Best; why says what is missing when nothing matches.
func best(have []Format, want Format) (Format, string) {
	tw, th := want.Width, want.Height
	if tw == 0 && th == 0 {
		tw, th = DefaultWidth, DefaultHeight
	}
	tfps := want.FPS
	if tfps <= 0 {
		tfps = DefaultFPS
	}
	sizeCost := func(f Format) int {
		c := 0
		if tw > 0 {
			c += abs(f.Width - tw)
		}
		if th > 0 {
			c += abs(f.Height - th)
		}
		return c
	}
	fpsCost := func(f Format) float64 {
		if f.FPS <= 0 {
			return 1e6 // unknown rate: only when nothing else fits
		}
		d := f.FPS - tfps
		if d < 0 {
			d = -d
		}
		return d
	}
	var cand []Format
	for _, f := range have {
		if f.Width <= 0 || f.Height <= 0 || f.PixelFormat.cost() >= len(PixelFormats()) {
			continue
		}
		if want.PixelFormat != "" && f.PixelFormat != want.PixelFormat {
			continue
		}
		cand = append(cand, f)
	}
	if len(cand) == 0 {
		return Format{}, fmt.Sprintf("want %s; the device offers %s", describeWish(want), describeFormats(have))
	}
	sort.SliceStable(cand, func(i, j int) bool {
		a, b := cand[i], cand[j]
		if ca, cb := sizeCost(a), sizeCost(b); ca != cb {
			return ca < cb
		}
		if ca, cb := fpsCost(a), fpsCost(b); ca != cb {
			return ca < cb
		}
		if ca, cb := a.PixelFormat.cost(), b.PixelFormat.cost(); ca != cb {
			return ca < cb
		}
		if a.FPS != b.FPS {
			return a.FPS > b.FPS
		}
		return a.Width*a.Height > b.Width*b.Height
	})
	return cand[0], ""
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func describeWish(w Format) string {
	var parts []string
	if w.PixelFormat != "" {
		parts = append(parts, string(w.PixelFormat))
	}
	if w.Width > 0 || w.Height > 0 {
		parts = append(parts, fmt.Sprintf("%dx%d", w.Width, w.Height))
	}
	if w.FPS > 0 {
		parts = append(parts, fmt.Sprintf("%g fps", w.FPS))
	}
	if len(parts) == 0 {
		return "any supported format"
	}
	return strings.Join(parts, " ")
}

func describeFormats(fs []Format) string {
	if len(fs) == 0 {
		return "no supported format (yuyv, nv12, i420, mjpeg)"
	}
	fs = append([]Format(nil), fs...)
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.PixelFormat != b.PixelFormat {
			return a.PixelFormat.cost() < b.PixelFormat.cost()
		}
		if a.Width*a.Height != b.Width*b.Height {
			return a.Width*a.Height > b.Width*b.Height
		}
		return a.FPS > b.FPS
	})
	seen := map[string]bool{}
	var out []string
	for _, f := range fs {
		s := f.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	const limit = 12
	if len(out) > limit {
		out = append(out[:limit], fmt.Sprintf("and %d more", len(out)-limit))
	}
	return strings.Join(out, ", ")
}

// Options tune a capture.
type Options struct {
	// Timeout bounds the wait for each picture (default 5 s, and at least
	// three frame intervals of the chosen format).
	Timeout time.Duration
	// Now is the clock for capture times (nil = time.Now).
	Now func() time.Time
}

// DefaultTimeout is the picture timeout when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// frameSource is what a capture reads from: the driver's picture reader
// (already converted to 4:2:0) and how to stop it. Read may block; Close
// must make a blocked Read return eventually. The image Read returns is
// valid until the next Read or until release is called.
type frameSource interface {
	Read() (img image.Image, release func(), err error)
	Close() error
}

// readResult is one finished Read of the frame source.
type readResult struct {
	img     image.Image
	release func()
	at      time.Time
	err     error
}

// Capture is an open device delivering pictures. Read and ReadInto are
// meant for one reader goroutine (calls are serialised); Close may be called
// from any goroutine, also while a Read waits.
type Capture struct {
	path    string
	format  Format
	w, h    int // output size: the format's size rounded down to even
	src     frameSource
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex      // serialises reads; guards pending and err
	pending chan readResult // a source read in flight, nil if none
	err     error           // sticky failure

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// newCapture wraps src. It is how Open builds a capture and how tests inject
// a fake device.
func newCapture(path string, f Format, src frameSource, o Options) *Capture {
	t := o.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	if f.FPS > 0 {
		if floor := time.Duration(3 * float64(time.Second) / f.FPS); t < floor {
			t = floor
		}
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Capture{
		path:    path,
		format:  f,
		w:       f.Width &^ 1,
		h:       f.Height &^ 1,
		src:     src,
		timeout: t,
		now:     now,
		done:    make(chan struct{}),
	}
}

// Path is the device path the capture was opened with.
func (c *Capture) Path() string { return c.path }

// Format is the format the device was set to.
func (c *Capture) Format() Format { return c.format }

// Size is the size of the pictures Read returns: the format's size, rounded
// down to even (I420 needs even sizes; an odd last column or row is dropped).
func (c *Capture) Size() (width, height int) { return c.w, c.h }

// Read returns the next picture as a newly allocated, tightly packed 4:2:0
// image of Size(), with its capture time.
func (c *Capture) Read(ctx context.Context) (*image.YCbCr, time.Time, error) {
	img := image.NewYCbCr(image.Rect(0, 0, c.w, c.h), image.YCbCrSubsampleRatio420)
	at, err := c.ReadInto(ctx, img)
	if err != nil {
		return nil, time.Time{}, err
	}
	return img, at, nil
}

// ReadInto converts the next picture into dst, a 4:2:0 image of Size(),
// and returns its capture time. It returns ctx's error when ctx ends,
// ErrTimeout when no picture arrives within the timeout, ErrClosed after
// Close, and ErrCapture (sticky) when the device fails or vanishes.
func (c *Capture) ReadInto(ctx context.Context, dst *image.YCbCr) (time.Time, error) {
	if err := checkDst(dst, c.w, c.h); err != nil {
		return time.Time{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return time.Time{}, c.err
	}
	select {
	case <-c.done:
		return time.Time{}, fmt.Errorf("%w: %s", ErrClosed, c.path)
	default:
	}
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if c.pending == nil {
		// One source read at a time: a read given up on (timeout, ctx)
		// stays pending and the next ReadInto takes its picture.
		ch := make(chan readResult, 1)
		c.pending = ch
		go func() { ch <- c.readSource() }()
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case r := <-c.pending:
		c.pending = nil
		if r.err != nil {
			c.err = fmt.Errorf("%w: %s: %w", ErrCapture, c.path, r.err)
			return time.Time{}, c.err
		}
		err := copyI420(dst, r.img)
		if r.release != nil {
			r.release()
		}
		if err != nil {
			c.err = fmt.Errorf("%w: %s: %w", ErrCapture, c.path, err)
			return time.Time{}, c.err
		}
		return r.at, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	case <-timer.C:
		return time.Time{}, fmt.Errorf("%w: %s: nothing for %s", ErrTimeout, c.path, c.timeout)
	case <-c.done:
		return time.Time{}, fmt.Errorf("%w: %s", ErrClosed, c.path)
	}
}

// readSource reads one picture, retrying a spurious "try again" a few times.
func (c *Capture) readSource() readResult {
	for try := 0; ; try++ {
		img, release, err := c.src.Read()
		if err != nil && errors.Is(err, syscall.EAGAIN) && try < 5 {
			continue
		}
		if err != nil {
			return readResult{err: err}
		}
		return readResult{img: img, release: release, at: c.now()}
	}
}

// Close stops the capture and releases the device. It is safe to call more
// than once and while a Read waits (that Read returns ErrClosed). It may
// wait for the driver's own read timeout (pion/mediadevices: 5 s) if a
// driver read is in flight.
func (c *Capture) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.closeErr = c.src.Close()
	})
	return c.closeErr
}
