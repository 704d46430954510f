//go:build linux

package rpiotp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlMboxProperty is IOCTL_MBOX_PROPERTY = _IOWR(100, 0, char *) from
// the Raspberry Pi kernel's drivers/char/broadcom/vcio.c: direction
// read|write (3) << 30, argument size (a pointer: 8 on arm64, 4 on arm)
// << 16, type 100 << 8, number 0. A 32-bit binary on a 64-bit kernel uses
// the 4-byte form, which the driver accepts as IOCTL_MBOX_PROPERTY32.
const ioctlMboxProperty = 3<<30 | uintptr(unsafe.Sizeof(uintptr(0)))<<16 | 100<<8 | 0

// Property implements Mailbox.
func (v VCIO) Property(buf []uint32) error {
	if err := checkMessage(buf); err != nil {
		return err
	}
	f, err := os.OpenFile(v.path(), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("%w: %v", ErrNoDevice, err)
	}
	if err != nil {
		return fmt.Errorf("rpiotp: %w", err)
	}
	defer f.Close()
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ioctlMboxProperty, uintptr(unsafe.Pointer(&buf[0])))
	runtime.KeepAlive(buf)
	switch e {
	case 0:
		return nil
	case unix.ENOTTY, unix.ENOSYS:
		// ENOTTY: not the vcio device. ENOSYS: the ioctl is not
		// implemented here (qemu-user answers so for unknown ioctls).
		return fmt.Errorf("%w: %s is not the vcio device: %v", ErrNoDevice, v.path(), e)
	case unix.EINVAL, unix.EPERM:
		// rpi_firmware_property_list answers -EINVAL when the firmware's
		// response code is not 0x80000000; newer vcio drivers answer
		// -EPERM for a tag outside their allowlist.
		return fmt.Errorf("%w: ioctl: %v", ErrRefused, e)
	}
	return fmt.Errorf("rpiotp: ioctl %s: %w", v.path(), e)
}
