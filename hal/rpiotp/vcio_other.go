//go:build !linux

package rpiotp

import "fmt"

// Property implements Mailbox: there is no VideoCore mailbox off Linux.
func (v VCIO) Property(buf []uint32) error {
	if err := checkMessage(buf); err != nil {
		return err
	}
	return fmt.Errorf("%w: not supported on this OS", ErrNoDevice)
}
