//go:build !linux || !cgo

package camera

import (
	"context"
	"fmt"
)

// List fails: this build has no V4L2 driver (pion/mediadevices' camera
// driver needs Linux and cgo, and without them it silently finds nothing).
func List(ctx context.Context) ([]Device, error) {
	return nil, ErrUnsupported
}

// Open fails: this build has no V4L2 driver (see List).
func Open(ctx context.Context, path string, want Format, o Options) (*Capture, error) {
	return nil, fmt.Errorf("%w: cannot open %s", ErrUnsupported, path)
}
