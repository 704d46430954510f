package uplink

import (
	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/hal/board"
)

// HALBoard is the BoardReader of hal/board (R23): CPU temperature,
// throttling bits, load, memory and the clock sync state. Unknown figures
// stay nil.
func HALBoard(b *board.Board) BoardReader { return halBoard{b} }

type halBoard struct{ b *board.Board }

func (u halBoard) ReadBoard() Board {
	var out Board
	if t, err := u.b.CPUTempMilliC(); err == nil {
		v := int32(t)
		out.TempMilliC = &v
	}
	if th, err := u.b.Throttled(); err == nil && th.Known {
		v := th.Raw
		out.Throttled = &v
	}
	if l, err := u.b.LoadAvg1(); err == nil {
		out.Load1 = &l
	}
	if m, err := u.b.Memory(); err == nil && m.Known {
		total, avail := m.TotalKiB, m.AvailableKiB
		out.MemTotalKiB, out.MemAvailKiB = &total, &avail
	}
	out.Clock = wire.ClockUnknown
	switch st, err := u.b.ClockSync(); {
	case err != nil:
	case st == board.ClockSynced:
		out.Clock = wire.ClockSynced
	case st == board.ClockUnsynced:
		out.Clock = wire.ClockUnsynced
	}
	return out
}
