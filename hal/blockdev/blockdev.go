package blockdev

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Method names the mechanism a discard used.
type Method string

// Methods.
const (
	MethodSecDiscard Method = "blksecdiscard" // block device, secure discard
	MethodDiscard    Method = "blkdiscard"    // block device, plain discard
	MethodPunchHole  Method = "punch-hole"    // regular file, fallocate(PUNCH_HOLE|KEEP_SIZE)
	MethodNone       Method = "none"          // nothing could be discarded
)

// Result is the outcome of a discard. Supported is false when the medium,
// driver or file system refused the request as unsupported; Note then says
// why (and, when a secure discard fell back to a plain one, says that too).
type Result struct {
	Method    Method `json:"method"`
	Supported bool   `json:"supported"`
	Offset    int64  `json:"offset"`
	Bytes     int64  `json:"bytes"` // bytes covered by the request that succeeded
	Note      string `json:"note,omitempty"`
}

// ErrRange: the offset or length is negative or beyond the end.
var ErrRange = errors.New("blockdev: range out of bounds")

// IsBlockDevice reports whether f is a block device.
func IsBlockDevice(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&fs.ModeDevice != 0 && st.Mode()&fs.ModeCharDevice == 0
}

// Size returns the size in bytes of a block device (BLKGETSIZE64) or a
// regular file.
func Size(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("blockdev: %w", err)
	}
	if st.Mode().IsRegular() {
		return st.Size(), nil
	}
	if IsBlockDevice(f) {
		return deviceSize(f)
	}
	return 0, fmt.Errorf("blockdev: %s is neither a regular file nor a block device", f.Name())
}

// Discard discards [off, off+length) of f; length < 0 means to the end. On
// a block device it tries BLKSECDISCARD first when secure is set, then
// BLKDISCARD; on a regular file it punches a hole (the size is kept). The
// range is trimmed inward to 512-byte sectors on a block device.
func Discard(f *os.File, off, length int64, secure bool) (Result, error) {
	size, err := Size(f)
	if err != nil {
		return Result{Method: MethodNone}, err
	}
	if length < 0 {
		length = size - off
	}
	if off < 0 || length < 0 || off+length > size {
		return Result{Method: MethodNone}, fmt.Errorf("%w: [%d, +%d) of %d bytes", ErrRange, off, length, size)
	}
	if length == 0 {
		return Result{Method: MethodNone, Supported: true, Offset: off}, nil
	}
	if IsBlockDevice(f) {
		const sector = 512
		a := (off + sector - 1) / sector * sector
		b := (off + length) / sector * sector
		if b <= a {
			return Result{Method: MethodNone, Supported: true, Offset: off, Note: "range smaller than one sector"}, nil
		}
		return discardDevice(f, a, b-a, secure)
	}
	return punchHole(f, off, length)
}
