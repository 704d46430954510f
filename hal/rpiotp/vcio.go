package rpiotp

import (
	"errors"
	"fmt"
)

// DefaultDevice is the Raspberry Pi firmware mailbox character device.
const DefaultDevice = "/dev/vcio"

// VCIO is the real Mailbox: the IOCTL_MBOX_PROPERTY ioctl on /dev/vcio
// (Linux only; elsewhere every call is ErrNoDevice). It opens the device
// for each exchange, so nothing stays open between key reads.
type VCIO struct {
	Path string // "" = DefaultDevice
}

func (v VCIO) path() string {
	if v.Path == "" {
		return DefaultDevice
	}
	return v.Path
}

// errBadMessage: the message's size word does not match the slice. The
// kernel trusts the size word for both copies, so a mismatch would let it
// read or write past the slice; it is refused before the ioctl.
var errBadMessage = errors.New("rpiotp: message size word does not match the buffer")

func checkMessage(buf []uint32) error {
	if len(buf) < headerWords+tagHdrWords+trailingWords || uint64(buf[0]) != 4*uint64(len(buf)) {
		return fmt.Errorf("%w (%d words)", errBadMessage, len(buf))
	}
	return nil
}
