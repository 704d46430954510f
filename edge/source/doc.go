// Package source opens camera sources by URL and yields raw I420 frames.
//
// Schemes: test://pattern?width=&height=&fps= (a synthetic moving picture,
// built in, used by the demo, selftest and tests). rtsp:// and v4l2:// are
// the real cameras (issue 4); until they land they fail with
// ErrNotImplemented rather than pretend. An unknown scheme is
// ErrUnknownScheme with the scheme named.
package source
