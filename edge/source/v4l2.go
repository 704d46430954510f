package source

import (
	"context"
	"fmt"
	"image"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"time"

	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/hal/camera"
)

// v4l2Capture is what the V4L2 source needs of hal/camera's Capture (an
// interface so tests can inject a device).
type v4l2Capture interface {
	ReadInto(ctx context.Context, dst *image.YCbCr) (time.Time, error)
	Size() (width, height int)
	Format() camera.Format
	Close() error
}

// v4l2Source is a local camera (D2): pictures from hal/camera, I420, with
// the capture time as Wall and PTS counted from the first picture.
type v4l2Source struct {
	path    string
	cap     v4l2Capture
	info    media.StreamInfo
	first   time.Time
	lastPTS time.Duration
	n       int64
}

// v4l2DevicePath is what a v4l2:// URL may name: a video node or a stable
// udev link to one. Nothing else under /dev is ever opened.
var v4l2DevicePath = regexp.MustCompile(`^/dev/(video[0-9]{1,3}|v4l/by-(id|path)/[A-Za-z0-9._:+@-]+)$`)

// v4l2Wish is a parsed v4l2:// URL.
type v4l2Wish struct {
	path string
	want camera.Format
}

// parseV4L2 checks a v4l2:///dev/videoN?width=&height=&fps=&format= URL.
func parseV4L2(u *url.URL) (v4l2Wish, error) {
	bad := func(format string, a ...any) (v4l2Wish, error) {
		return v4l2Wish{}, fmt.Errorf("%w: v4l2: "+format, append([]any{ErrBadURL}, a...)...)
	}
	if u.User != nil {
		return bad("a device URL has no user or password")
	}
	if u.Host != "" {
		return bad("host %q: name the device as a path with three slashes, e.g. v4l2:///dev/video0", u.Host)
	}
	if u.Opaque != "" {
		return bad("%q: name the device as a path, e.g. v4l2:///dev/video0", u.Opaque)
	}
	if u.Fragment != "" {
		return bad("unexpected fragment #%s", u.Fragment)
	}
	p := u.Path
	if p == "" {
		return bad("no device: want e.g. v4l2:///dev/video0")
	}
	if path.Clean(p) != p || !v4l2DevicePath.MatchString(p) {
		return bad("device %q: want /dev/videoN, /dev/v4l/by-id/NAME or /dev/v4l/by-path/NAME", p)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query: %s", redactErr(err))
	}
	w := v4l2Wish{path: p}
	for k, vs := range q {
		if len(vs) != 1 {
			return bad("%s given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "width", "height":
			limit := MaxWidth
			if k == "height" {
				limit = MaxHeight
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 16 || n > limit || n%2 != 0 {
				return bad("%s=%q: want an even integer in 16..%d", k, v, limit)
			}
			if k == "width" {
				w.want.Width = n
			} else {
				w.want.Height = n
			}
		case "fps":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f >= 1 && f <= 240) {
				return bad("fps=%q: want a number in 1..240", v)
			}
			w.want.FPS = f
		case "format":
			pf, err := camera.ParsePixelFormat(v)
			if err != nil {
				return bad("format=%q: want yuyv, nv12, i420 or mjpeg", v)
			}
			w.want.PixelFormat = pf
		default:
			return bad("unknown parameter %q (want width, height, fps, format)", k)
		}
	}
	return w, nil
}

// openV4L2 opens a local V4L2 camera in the device's format closest to the
// URL's wish (camera.Best).
func openV4L2(ctx context.Context, u *url.URL, o Options) (Source, error) {
	w, err := parseV4L2(u)
	if err != nil {
		return nil, err
	}
	c, err := camera.Open(ctx, w.path, w.want, camera.Options{Timeout: o.Timeout, Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("source: v4l2: %w", err) // hal/camera names the device
	}
	s, err := newV4L2Source(w.path, c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

// newV4L2Source wraps an open capture.
func newV4L2Source(devPath string, c v4l2Capture) (*v4l2Source, error) {
	width, height := c.Size()
	f := c.Format()
	if width < 2 || height < 2 || width > MaxWidth || height > MaxHeight {
		return nil, fmt.Errorf("%w: v4l2 %s: device format %s is outside 2x2..%dx%d", ErrStream, devPath, f, MaxWidth, MaxHeight)
	}
	fps := f.FPS
	if fps <= 0 {
		fps = camera.DefaultFPS // the device did not say; the encoder needs a rate
	}
	return &v4l2Source{
		path: devPath,
		cap:  c,
		info: media.StreamInfo{Codec: "raw", Width: width, Height: height, FPS: fps},
	}, nil
}

func (s *v4l2Source) Info() media.StreamInfo { return s.info }

// Read returns the next picture. A device that fails or vanishes gives an
// error (wrapping camera.ErrCapture); one that stops delivering gives
// camera.ErrTimeout after the capture's timeout, never a hang.
func (s *v4l2Source) Read(ctx context.Context) (*media.Frame, error) {
	f, err := media.NewFrame(s.info.Width, s.info.Height)
	if err != nil {
		return nil, err
	}
	at, err := s.cap.ReadInto(ctx, f.YCbCr())
	if err != nil {
		return nil, fmt.Errorf("source: v4l2 %s: %w", s.path, err)
	}
	if s.n == 0 {
		s.first = at
	}
	pts := at.Sub(s.first)
	if s.n > 0 && pts <= s.lastPTS {
		pts = s.lastPTS + time.Millisecond // keep PTS strictly increasing
	}
	s.n++
	s.lastPTS = pts
	f.PTS, f.Wall = pts, at
	return f, nil
}

func (s *v4l2Source) Close() error { return s.cap.Close() }
