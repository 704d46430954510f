package uplink

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

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

// LinuxBoard reads the board figures from /sys and /proc under root ("" =
// "/"): thermal_zone0, the Pi firmware's get_throttled, /proc/loadavg,
// /proc/meminfo, and the kernel clock sync state (adjtimex).
func LinuxBoard(root string) func() Board {
	if root == "" {
		root = "/"
	}
	p := func(s string) string { return filepath.Join(root, s) }
	return func() Board {
		var b Board
		if v, ok := readInt(p("sys/class/thermal/thermal_zone0/temp"), 10); ok {
			t := int32(v)
			b.TempMilliC = &t
		}
		if v, ok := readInt(p("sys/devices/platform/soc/soc:firmware/get_throttled"), 16); ok {
			t := uint32(v)
			b.Throttled = &t
		}
		if raw, err := os.ReadFile(p("proc/loadavg")); err == nil {
			if f := strings.Fields(string(raw)); len(f) > 0 {
				if l, err := strconv.ParseFloat(f[0], 64); err == nil {
					b.Load1 = &l
				}
			}
		}
		if raw, err := os.ReadFile(p("proc/meminfo")); err == nil {
			sc := bufio.NewScanner(bytes.NewReader(raw))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) < 2 {
					continue
				}
				n, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil {
					continue
				}
				switch f[0] {
				case "MemTotal:":
					b.MemTotalKiB = &n
				case "MemAvailable:":
					b.MemAvailKiB = &n
				}
			}
		}
		b.Clock = clockState()
		return b
	}
}

func readInt(path string, base int) (int64, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(raw))
	if base == 16 {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "throttled="), "0x")
	}
	v, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}
