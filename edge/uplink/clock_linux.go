package uplink

import (
	"syscall"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// clockState asks the kernel whether NTP (or another discipline) has
// synchronized the clock: adjtimex returns TIME_ERROR (5) while it is not.
func clockState() uint8 {
	var tx syscall.Timex
	state, err := syscall.Adjtimex(&tx)
	if err != nil {
		return wire.ClockUnknown
	}
	const timeError = 5
	if state == timeError {
		return wire.ClockUnsynced
	}
	return wire.ClockSynced
}
