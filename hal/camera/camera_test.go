package camera

import (
	"context"
	"errors"
	"image"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/io/video"
)

// TestBest: the closest format wins: size first, then rate, then the
// cheapest pixel format; a named pixel format is a must (D2).
func TestBest(t *testing.T) {
	have := []Format{
		{YUYV, 640, 480, 30},
		{YUYV, 1280, 720, 10},
		{YUYV, 1920, 1080, 5},
		{MJPEG, 1280, 720, 30},
		{MJPEG, 1280, 720, 15},
		{MJPEG, 1920, 1080, 30},
		{NV12, 640, 480, 15},
		{"Z16", 1280, 720, 15}, // unsupported: ignored
	}
	for _, c := range []struct {
		want Format
		got  Format
	}{
		{Format{}, Format{MJPEG, 1280, 720, 15}},                      // default 720p15
		{Format{FPS: 10}, Format{YUYV, 1280, 720, 10}},                // rate beats pixel format
		{Format{PixelFormat: YUYV}, Format{YUYV, 1280, 720, 10}},      // format is a must
		{Format{Width: 640, Height: 480}, Format{NV12, 640, 480, 15}}, // NV12 cheaper than YUYV at 15
		{Format{Width: 640, Height: 480, FPS: 30}, Format{YUYV, 640, 480, 30}},
		{Format{Width: 1920}, Format{YUYV, 1920, 1080, 5}},               // width only; 5 fps is nearer 15 than 30
		{Format{Width: 1000, Height: 700}, Format{MJPEG, 1280, 720, 15}}, // nearest size
		{Format{PixelFormat: MJPEG, Width: 1920, Height: 1080, FPS: 60}, Format{MJPEG, 1920, 1080, 30}},
	} {
		got, err := Best(have, c.want)
		if err != nil || got != c.got {
			t.Errorf("Best(%v) = %v, %v; want %v", c.want, got, err, c.got)
		}
	}
	_, err := Best(have, Format{PixelFormat: I420})
	if !errors.Is(err, ErrNoFormat) || !strings.Contains(err.Error(), "YUYV 640x480@30") {
		t.Errorf("no I420: %v", err)
	}
	if _, err := Best(nil, Format{}); !errors.Is(err, ErrNoFormat) {
		t.Errorf("empty: %v", err)
	}
	// A rate the device does not state is used only when nothing else fits.
	got, err := Best([]Format{{YUYV, 1280, 720, 0}, {YUYV, 1280, 720, 60}}, Format{})
	if err != nil || got.FPS != 60 {
		t.Errorf("unknown rate preferred: %v %v", got, err)
	}
}

// fakeSource is an injected device: it serves YUYV pictures through the same
// mediadevices decode + I420 path as the driver, can fail, or can hang until
// closed (a driver stuck in an ioctl).
type fakeSource struct {
	mu       sync.Mutex
	n        int
	failAt   int   // picture index that fails with failErr (0 = never)
	failErr  error // e.g. ENODEV: the USB camera was unplugged
	hangAt   int   // picture index that blocks until Close (0 = never)
	released int
	closed   chan struct{}
	once     sync.Once
	w, h     int
}

func newFake(w, h int) *fakeSource { return &fakeSource{closed: make(chan struct{}), w: w, h: h} }

func (f *fakeSource) Read() (image.Image, func(), error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	if f.hangAt > 0 && n >= f.hangAt {
		<-f.closed
		return nil, func() {}, errors.New("closed")
	}
	if f.failAt > 0 && n >= f.failAt {
		return nil, func() {}, f.failErr
	}
	raw := make([]byte, f.w*f.h*2)
	for i := 0; i < len(raw); i += 2 {
		raw[i], raw[i+1] = byte(n), 128 // luma = picture number
	}
	r, err := decodeReader(YUYV, raw, f.w, f.h)
	if err != nil {
		return nil, func() {}, err
	}
	img, release, err := video.ToI420(r).Read()
	return img, func() {
		f.mu.Lock()
		f.released++
		f.mu.Unlock()
		release()
	}, err
}

func (f *fakeSource) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func TestCaptureReads(t *testing.T) {
	f := newFake(8, 6)
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newCapture("/dev/video7", Format{YUYV, 8, 6, 30}, f, Options{Now: func() time.Time { return clock }})
	defer c.Close()
	if w, h := c.Size(); w != 8 || h != 6 || c.Path() != "/dev/video7" || c.Format().PixelFormat != YUYV {
		t.Fatalf("size %dx%d path %s format %v", w, h, c.Path(), c.Format())
	}
	for i := 1; i <= 3; i++ {
		img, at, err := c.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !at.Equal(clock) {
			t.Fatalf("capture time %v", at)
		}
		if img.Y[0] != byte(i) || img.Cb[0] != 128 || len(img.Y) != 48 || len(img.Cb) != 12 || img.YStride != 8 {
			t.Fatalf("picture %d: Y0=%d U0=%d sizes %d/%d", i, img.Y[0], img.Cb[0], len(img.Y), len(img.Cb))
		}
	}
	if f.released != 3 {
		t.Fatalf("released %d of 3 pictures", f.released)
	}
}

// TestCaptureOddSize: I420 needs even sizes; the odd last column and row are
// dropped.
func TestCaptureOddSize(t *testing.T) {
	c := newCapture("/dev/video0", Format{I420, 641, 481, 0}, newFake(2, 2), Options{})
	defer c.Close()
	if w, h := c.Size(); w != 640 || h != 480 {
		t.Fatalf("size %dx%d", w, h)
	}
}

// TestCaptureDeviceVanishes: a camera unplugged mid-capture (the driver says
// ENODEV) gives an error, not a hang, and the capture stays failed (D2, R10:
// a lost stream is detected).
func TestCaptureDeviceVanishes(t *testing.T) {
	f := newFake(4, 2)
	f.failAt, f.failErr = 3, syscall.ENODEV
	c := newCapture("/dev/video0", Format{YUYV, 4, 2, 30}, f, Options{Timeout: time.Second})
	defer c.Close()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, _, err := c.Read(ctx); err != nil {
			t.Fatalf("picture %d: %v", i, err)
		}
	}
	_, _, err := c.Read(ctx)
	if !errors.Is(err, ErrCapture) || !errors.Is(err, syscall.ENODEV) || !strings.Contains(err.Error(), "/dev/video0") {
		t.Fatalf("vanished device: %v", err)
	}
	if _, _, err2 := c.Read(ctx); !errors.Is(err2, ErrCapture) {
		t.Fatalf("failure not sticky: %v", err2)
	}
}

// TestCaptureDriverHangs: a driver read that never returns (a wedged device)
// is bounded by the timeout; Close then returns promptly and the reader
// sees ErrClosed. No goroutine stays behind.
func TestCaptureDriverHangs(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFake(4, 2)
	f.hangAt = 2
	c := newCapture("/dev/video0", Format{YUYV, 4, 2, 30}, f, Options{Timeout: 150 * time.Millisecond})
	ctx := context.Background()
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err := c.Read(ctx)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("hung driver: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	// Close while another Read waits on the same stuck driver read.
	errc := make(chan error, 1)
	go func() { _, _, err := c.Read(ctx); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("read during close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
	if _, _, err := c.Read(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines left behind", n-before)
	}
}

// TestCaptureContext: a waiting Read returns when its context ends, and the
// picture it was waiting for is not lost: the next Read takes it.
func TestCaptureContext(t *testing.T) {
	gate := make(chan struct{})
	src := &gatedSource{inner: newFake(4, 2), gate: gate}
	c := newCapture("/dev/video0", Format{YUYV, 4, 2, 30}, src, Options{Timeout: 5 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := c.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled read: %v", err)
	}
	close(gate)
	img, _, err := c.Read(context.Background())
	if err != nil || img.Y[0] != 1 {
		t.Fatalf("late picture: %v", err)
	}
	if src.inner.n != 1 {
		t.Fatalf("%d driver reads for one picture", src.inner.n)
	}
}

type gatedSource struct {
	inner *fakeSource
	gate  chan struct{}
}

func (g *gatedSource) Read() (image.Image, func(), error) {
	<-g.gate
	return g.inner.Read()
}

func (g *gatedSource) Close() error { return g.inner.Close() }

// TestCaptureRetriesEAGAIN: a spurious "try again" from a non-blocking
// dequeue is retried, not reported.
func TestCaptureRetriesEAGAIN(t *testing.T) {
	src := &flakySource{inner: newFake(4, 2), again: 2}
	c := newCapture("/dev/video0", Format{YUYV, 4, 2, 30}, src, Options{})
	defer c.Close()
	if _, _, err := c.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type flakySource struct {
	inner *fakeSource
	again int
}

func (s *flakySource) Read() (image.Image, func(), error) {
	if s.again > 0 {
		s.again--
		return nil, func() {}, syscall.EAGAIN
	}
	return s.inner.Read()
}

func (s *flakySource) Close() error { return s.inner.Close() }

// TestOpenMissingDevice: a path with no device names the path (D2).
func TestOpenMissingDevice(t *testing.T) {
	_, err := Open(context.Background(), "/dev/video-edgerec-missing", Format{}, Options{})
	if !errors.Is(err, ErrNoDevice) && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("missing device: %v", err)
	}
	if !strings.Contains(err.Error(), "/dev/video-edgerec-missing") {
		t.Fatalf("error does not name the path: %v", err)
	}
	// Not a V4L2 device at all.
	if _, err := Open(context.Background(), "/dev/null", Format{}, Options{}); err == nil {
		t.Fatal("/dev/null opened as a camera")
	}
}

// TestList: on a machine without cameras List is empty, not an error
// (or ErrUnsupported in a build without cgo).
func TestList(t *testing.T) {
	devs, err := List(context.Background())
	if errors.Is(err, ErrUnsupported) {
		t.Skip("no V4L2 in this build")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		t.Logf("%s %q %s: %v (err %v)", d.Path, d.Label, d.Bus, d.Formats, d.Err)
		if !strings.HasPrefix(d.Path, "/dev/video") {
			t.Errorf("path %q", d.Path)
		}
	}
}
