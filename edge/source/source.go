package source

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/edgerec/edgerec/edge/media"
)

// Errors returned by Open.
var (
	ErrUnknownScheme  = errors.New("source: unknown scheme")
	ErrNotImplemented = errors.New("source: not implemented yet")
	ErrBadURL         = errors.New("source: bad source URL")
)

// Source yields raw frames of one camera.
type Source interface {
	// Info describes the frames Read returns.
	Info() media.StreamInfo
	// Read blocks until the next frame is available or ctx ends.
	Read(ctx context.Context) (*media.Frame, error)
	Close() error
}

// Options tune how a source runs.
type Options struct {
	// Unpaced makes synthetic sources produce frames as fast as they are
	// read instead of in real time (selftest and benchmarks).
	Unpaced bool
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
	case "rtsp", "rtsps", "v4l2":
		return nil, fmt.Errorf("%w: %s:// sources arrive with the real-camera issue", ErrNotImplemented, u.Scheme)
	case "":
		return nil, fmt.Errorf("%w: missing scheme (want test, rtsp, v4l2)", ErrUnknownScheme)
	default:
		return nil, fmt.Errorf("%w %q (want test, rtsp, v4l2)", ErrUnknownScheme, u.Scheme)
	}
}

// Redact returns rawURL with any password removed, for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func redactErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "unparseable URL"
}
