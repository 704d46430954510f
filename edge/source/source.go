package source

import (
	"context"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/edge/redact"
	"net/url"
	"time"

	"github.com/edgerec/edgerec/edge/media"
)

// Errors returned by Open.
var (
	ErrUnknownScheme  = errors.New("source: unknown scheme")
	ErrNotImplemented = errors.New("source: not implemented yet")
	ErrBadURL         = errors.New("source: bad source URL")
	// ErrCodecNotSupported: the camera sends a codec the recorder cannot
	// handle (H.264 only); a health state, not a crash.
	ErrCodecNotSupported = errors.New("source: codec not supported")
	// ErrStream: the camera's stream is broken (garbage, absurd SPS).
	ErrStream = errors.New("source: bad stream")
)

// Source is an open camera. It is either a RawSource (frames to mask and
// encode) or a CodedSource (H.264 access units from the camera's own
// encoder); the pipeline type-switches on it.
type Source interface {
	// Info describes the stream.
	Info() media.StreamInfo
	Close() error
}

// RawSource yields raw I420 frames (test pattern, V4L2).
type RawSource interface {
	Source
	// Read blocks until the next frame is available or ctx ends.
	Read(ctx context.Context) (*media.Frame, error)
}

// CodedSource yields H.264 access units (RTSP). Every key access unit
// carries SPS and PPS in band, so a decoder or a stored segment can start
// there.
type CodedSource interface {
	Source
	// ReadAU blocks until the next access unit is available or ctx ends.
	ReadAU(ctx context.Context) (media.AccessUnit, error)
}

// Options tune how a source runs.
type Options struct {
	// Unpaced makes synthetic sources produce frames as fast as they are
	// read instead of in real time (selftest and benchmarks).
	Unpaced bool
	// Timeout bounds connecting and the wait for each packet of network
	// sources (default 10 s).
	Timeout time.Duration
	// Now is the wall clock for capture times (nil = time.Now).
	Now func() time.Time
}

// Open opens the source named by rawURL. Errors never repeat the URL's
// userinfo (camera passwords).
func Open(ctx context.Context, rawURL string, o Options) (Source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadURL, redactErr(err))
	}
	switch u.Scheme {
	case "test":
		return openPattern(u, o)
	case "rtsp", "rtsps":
		return openRTSP(ctx, u, o)
	case "v4l2":
		return openV4L2(ctx, u, o)
	case "":
		return nil, fmt.Errorf("%w: missing scheme (want test, rtsp, v4l2)", ErrUnknownScheme)
	default:
		return nil, fmt.Errorf("%w %q (want test, rtsp, v4l2)", ErrUnknownScheme, u.Scheme)
	}
}

// Redact is redact.URL: rawURL without its userinfo and secret query
// values, for logs and errors.
func Redact(rawURL string) string { return redact.URL(rawURL) }

func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "unparseable URL"
}
