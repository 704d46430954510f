//go:build linux

package blockdev

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func deviceSize(f *os.File) (int64, error) {
	var n uint64
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&n))); e != 0 {
		return 0, fmt.Errorf("blockdev: BLKGETSIZE64 %s: %w", f.Name(), e)
	}
	return int64(n), nil
}

// unsupported reports whether err means "this device or file system cannot
// do that" rather than a failure.
func unsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.ENOSYS) ||
		errors.Is(err, unix.EINVAL) // a device without discard support answers EINVAL on some drivers
}

func ioctlRange(f *os.File, req uint, off, length int64) error {
	r := [2]uint64{uint64(off), uint64(length)}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), uintptr(req), uintptr(unsafe.Pointer(&r[0]))); e != 0 {
		return e
	}
	return nil
}

func discardDevice(f *os.File, off, length int64, secure bool) (Result, error) {
	note := ""
	if secure {
		err := ioctlRange(f, unix.BLKSECDISCARD, off, length)
		if err == nil {
			return Result{Method: MethodSecDiscard, Supported: true, Offset: off, Bytes: length}, nil
		}
		if !unsupported(err) {
			return Result{Method: MethodSecDiscard, Offset: off}, fmt.Errorf("blockdev: BLKSECDISCARD %s: %w", f.Name(), err)
		}
		note = "secure discard not supported (" + err.Error() + "), plain discard used"
	}
	err := ioctlRange(f, unix.BLKDISCARD, off, length)
	if err == nil {
		return Result{Method: MethodDiscard, Supported: true, Offset: off, Bytes: length, Note: note}, nil
	}
	if unsupported(err) {
		return Result{Method: MethodNone, Offset: off, Note: joinNote(note, "discard not supported by "+f.Name()+": "+err.Error())}, nil
	}
	return Result{Method: MethodDiscard, Offset: off}, fmt.Errorf("blockdev: BLKDISCARD %s: %w", f.Name(), err)
}

func punchHole(f *os.File, off, length int64) (Result, error) {
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
	if err == nil {
		return Result{Method: MethodPunchHole, Supported: true, Offset: off, Bytes: length}, nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return Result{Method: MethodNone, Offset: off, Note: "file system cannot punch holes: " + err.Error()}, nil
	}
	return Result{Method: MethodPunchHole, Offset: off}, fmt.Errorf("blockdev: punch hole %s: %w", f.Name(), err)
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
