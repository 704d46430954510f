package source

import (
	"context"
	"fmt"
	"time"

	"github.com/edgerec/edgerec/edge/media"
)

// Probe opens a camera without recording and reports what it sends
// (codec, size, frame rate): what an installer checks before adding it.
// For network cameras it reads for up to a second to measure the rate
// when the stream does not declare it.
func Probe(ctx context.Context, rawURL string, o Options) (media.StreamInfo, error) {
	src, err := Open(ctx, rawURL, o)
	if err != nil {
		return media.StreamInfo{}, err
	}
	defer src.Close()
	if cs, ok := src.(CodedSource); ok {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		for range 3 {
			if _, err := cs.ReadAU(ctx); err != nil {
				break
			}
		}
	}
	info := src.Info()
	if info.Width <= 0 || info.Height <= 0 {
		return info, fmt.Errorf("%w: %s: no picture size", ErrStream, Redact(rawURL))
	}
	return info, nil
}
