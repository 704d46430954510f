//go:build !linux

package blockdev

import (
	"fmt"
	"os"
)

func deviceSize(f *os.File) (int64, error) {
	return 0, fmt.Errorf("blockdev: device size of %s: not supported on this OS", f.Name())
}

func discardDevice(f *os.File, off, _ int64, _ bool) (Result, error) {
	return Result{Method: MethodNone, Offset: off, Note: "discard not supported on this OS"}, nil
}

func punchHole(f *os.File, off, _ int64) (Result, error) {
	return Result{Method: MethodNone, Offset: off, Note: "hole punching not supported on this OS"}, nil
}
