package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/source"
)

func cmdSelftest(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "selftest", "[--source URL] [--frames N]")
	src := fs.String("source", "test://pattern?width=1280&height=720&fps=15", "camera source URL")
	frames := fs.Int("frames", 150, "number of frames to run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *frames < 1 || *frames > 100000 {
		return usageError{fmt.Sprintf("--frames %d: want 1..100000", *frames)}
	}
	// The demo camera's masks: a fill and a pixelation.
	masks := config.Demo("").Cameras[0].MaskList()
	rep, err := pipeline.SelfTest(ctx, pipeline.SelfTestConfig{Source: *src, Frames: *frames, Masks: masks})
	if err != nil {
		if errors.Is(err, source.ErrUnknownScheme) || errors.Is(err, source.ErrBadURL) {
			return usageError{err.Error()}
		}
		return err
	}
	fmt.Fprint(e.stdout, rep.String())
	if !rep.OK() {
		return fmt.Errorf("selftest failed: %s", rep.MaskFailure)
	}
	return nil
}
