package source

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgerec/edgerec/hal/camera"
)

// TestV4L2URL: v4l2:///dev/videoN?width=&height=&fps=&format= parses into
// a device path and a format wish; every parameter is optional (D2).
func TestV4L2URL(t *testing.T) {
	for raw, want := range map[string]v4l2Wish{
		"v4l2:///dev/video0":                                           {path: "/dev/video0"},
		"v4l2:///dev/video12?width=640&height=480":                     {path: "/dev/video12", want: camera.Format{Width: 640, Height: 480}},
		"v4l2:///dev/video0?fps=7.5&format=MJPEG":                      {path: "/dev/video0", want: camera.Format{PixelFormat: camera.MJPEG, FPS: 7.5}},
		"v4l2:///dev/video1?format=nv12&width=1920&height=1080&fps=30": {path: "/dev/video1", want: camera.Format{PixelFormat: camera.NV12, Width: 1920, Height: 1080, FPS: 30}},
		"v4l2:///dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_AB12-video-index0?format=yuyv": {
			path: "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_AB12-video-index0", want: camera.Format{PixelFormat: camera.YUYV},
		},
		"v4l2:///dev/v4l/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0-video-index0": {
			path: "/dev/v4l/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0-video-index0",
		},
		"v4l2:/dev/video3?format=i420": {path: "/dev/video3", want: camera.Format{PixelFormat: camera.I420}},
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got, err := parseV4L2(u)
		if err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", raw, got, err, want)
		}
	}
}

// TestV4L2URLErrors: an unknown parameter or a bad value is ErrBadURL with a
// message that says what is wrong; no device node outside V4L2 is opened.
func TestV4L2URLErrors(t *testing.T) {
	for raw, text := range map[string]string{
		"v4l2://video0":                          "three slashes",
		"v4l2://user:pw@/dev/video0":             "no user",
		"v4l2:video0":                            "as a path",
		"v4l2://":                                "no device",
		"v4l2:///dev/video0#x":                   "fragment",
		"v4l2:///dev/sda":                        "/dev/videoN",
		"v4l2:///dev/watchdog":                   "/dev/videoN",
		"v4l2:///dev/video0/../sda":              "/dev/videoN",
		"v4l2:///dev/v4l/by-id/../../sda":        "/dev/videoN",
		"v4l2:///tmp/video0":                     "/dev/videoN",
		"v4l2:///dev/video0?colour=red":          `unknown parameter "colour"`,
		"v4l2:///dev/video0?width=abc":           "width",
		"v4l2:///dev/video0?width=641":           "even",
		"v4l2:///dev/video0?width=8":             "16..4096",
		"v4l2:///dev/video0?height=100000":       "height",
		"v4l2:///dev/video0?fps=0":               "fps",
		"v4l2:///dev/video0?fps=NaN":             "fps",
		"v4l2:///dev/video0?fps=1000":            "fps",
		"v4l2:///dev/video0?format=rgb24":        "yuyv, nv12, i420 or mjpeg",
		"v4l2:///dev/video0?width=640&width=320": "2 times",
		"v4l2:///dev/video0?width=%zz":           "query",
	} {
		_, err := Open(context.Background(), raw, Options{})
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), text) {
			t.Errorf("%s: got %v, want ErrBadURL containing %q", raw, err, text)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: error leaks the password: %v", raw, err)
		}
	}
}

// TestV4L2MissingDevice: a device that is not there is a clear error naming
// the path, not a bad URL (the camera may come back; the supervisor retries).
func TestV4L2MissingDevice(t *testing.T) {
	_, err := Open(context.Background(), "v4l2:///dev/video987?width=640&height=480", Options{})
	if err == nil {
		t.Fatal("opened a missing device")
	}
	if errors.Is(err, ErrBadURL) {
		t.Fatalf("missing device reported as a bad URL: %v", err)
	}
	if !errors.Is(err, camera.ErrNoDevice) && !errors.Is(err, camera.ErrUnsupported) {
		t.Fatalf("missing device: %v", err)
	}
	if !strings.Contains(err.Error(), "/dev/video987") {
		t.Fatalf("error does not name the device: %v", err)
	}
}

// fakeCapture is an injected device that delivers n pictures, then fails
// the way hal/camera reports an unplugged camera.
type fakeCapture struct {
	w, h   int
	fps    float64
	n      int
	served int
	clock  time.Time
	closed bool
}

func (f *fakeCapture) ReadInto(ctx context.Context, dst *image.YCbCr) (time.Time, error) {
	if f.served >= f.n {
		return time.Time{}, fmt.Errorf("%w: /dev/video0: %w", camera.ErrCapture, syscall.ENODEV)
	}
	f.served++
	for i := range dst.Y {
		dst.Y[i] = byte(f.served)
	}
	for i := range dst.Cb {
		dst.Cb[i], dst.Cr[i] = 100, 200
	}
	if f.served == 3 {
		return f.clock, nil // the clock stalled: PTS must still advance
	}
	f.clock = f.clock.Add(time.Second / 30)
	return f.clock, nil
}

func (f *fakeCapture) Size() (int, int) { return f.w, f.h }
func (f *fakeCapture) Format() camera.Format {
	return camera.Format{PixelFormat: camera.YUYV, Width: f.w, Height: f.h, FPS: f.fps}
}
func (f *fakeCapture) Close() error { f.closed = true; return nil }

// TestV4L2SourceFrames: pictures come out as tightly packed I420 with the
// capture time as Wall and increasing PTS; a device that vanishes gives an
// error naming it (D2, R10).
func TestV4L2SourceFrames(t *testing.T) {
	fc := &fakeCapture{w: 64, h: 48, fps: 0, n: 4, clock: time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)}
	s, err := newV4L2Source("/dev/video0", fc)
	if err != nil {
		t.Fatal(err)
	}
	if i := s.Info(); i.Width != 64 || i.Height != 48 || i.FPS != camera.DefaultFPS || i.Codec != "raw" {
		t.Fatalf("info %+v", i)
	}
	var src RawSource = s
	ctx := context.Background()
	var prev time.Duration = -1
	for i := 1; i <= 4; i++ {
		f, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Y) != 64*48 || len(f.U) != 32*24 || len(f.V) != 32*24 {
			t.Fatalf("planes %d/%d/%d", len(f.Y), len(f.U), len(f.V))
		}
		if f.Y[0] != byte(i) || f.U[0] != 100 || f.V[len(f.V)-1] != 200 {
			t.Fatalf("picture %d: Y %d U %d V %d", i, f.Y[0], f.U[0], f.V[len(f.V)-1])
		}
		if f.Wall.IsZero() || f.PTS <= prev {
			t.Fatalf("picture %d: wall %v pts %v after %v", i, f.Wall, f.PTS, prev)
		}
		prev = f.PTS
	}
	_, err = src.Read(ctx)
	if !errors.Is(err, camera.ErrCapture) || !errors.Is(err, syscall.ENODEV) || !strings.Contains(err.Error(), "/dev/video0") {
		t.Fatalf("vanished device: %v", err)
	}
	src.Close()
	if !fc.closed {
		t.Fatal("Close did not close the capture")
	}
	// A device format beyond the limits is refused.
	if _, err := newV4L2Source("/dev/video0", &fakeCapture{w: 8192, h: 4320}); !errors.Is(err, ErrStream) {
		t.Fatalf("8K accepted: %v", err)
	}
}
