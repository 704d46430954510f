package update

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mountSquashfs mounts the first size bytes of file (the signed squashfs
// of a bundle) read-only on dir through a loop device that clears itself
// on unmount. It returns the unmount function.
func mountSquashfs(file string, size int64, dir string) (func() error, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("update: loop devices: %w", err)
	}
	defer ctl.Close()
	var loop *os.File
	var dev string
	for try := 0; try < 8; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("update: no free loop device: %w", err)
		}
		dev = fmt.Sprintf("/dev/loop%d", n)
		loop, err = os.OpenFile(dev, os.O_RDONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("update: %w", err)
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		cfg.Info.Sizelimit = uint64(size)
		cfg.Info.Flags = unix.LO_FLAGS_READ_ONLY | unix.LO_FLAGS_AUTOCLEAR
		err = unix.IoctlLoopConfigure(int(loop.Fd()), &cfg)
		if err == nil {
			break
		}
		loop.Close()
		loop = nil
		if err != unix.EBUSY {
			return nil, fmt.Errorf("update: configure %s: %w", dev, err)
		}
	}
	if loop == nil {
		return nil, fmt.Errorf("update: every loop device busy")
	}
	defer loop.Close() // autoclear: the mount holds it from here
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	if err := unix.Mount(dev, dir, "squashfs", unix.MS_RDONLY|unix.MS_NODEV|unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
		return nil, fmt.Errorf("update: mount the bundle (%s): %w", dev, err)
	}
	return func() error {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("update: unmount %s: %w", filepath.Base(dir), err)
		}
		return nil
	}, nil
}
