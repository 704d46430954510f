package uplink

// Board is what the beacon reports about the gateway itself. Nil fields are
// unknown on this board.
type Board struct {
	TempMilliC  *int32  // SoC temperature
	Throttled   *uint32 // Raspberry Pi firmware get_throttled bits
	Load1       *float64
	MemTotalKiB *uint64
	MemAvailKiB *uint64
	Clock       uint8 // wire.ClockUnknown, ClockUnsynced or ClockSynced
}

// BoardReader reads the gateway's own figures for the beacon and the clock
// state stamped on every message. The uplink reads no /sys or /proc file
// itself: cmd/edgerec wires hal/board (which owns those readers) through
// this interface. ReadBoard is called once per message; it must not block
// for long.
type BoardReader interface {
	ReadBoard() Board
}

// BoardFunc is a BoardReader from a function.
type BoardFunc func() Board

// ReadBoard calls f.
func (f BoardFunc) ReadBoard() Board { return f() }

// noBoard knows nothing (Deps.Board nil): every figure unknown, clock
// unknown.
func noBoard() Board { return Board{} }
