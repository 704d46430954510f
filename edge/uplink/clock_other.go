//go:build !linux

package uplink

import "github.com/edgerec/edgerec/edge/uplink/wire"

func clockState() uint8 { return wire.ClockUnknown }
