package uplink

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/hal/board"
)

// TestUplinkBoardFromHAL: the beacon's board figures come from hal/board
// (issue 15): the CPU zone by type (not zone 0), throttling, load, memory
// and the clock state (R23).
func TestUplinkBoardFromHAL(t *testing.T) {
	root := t.TempDir()
	for p, v := range map[string]string{
		"sys/class/thermal/thermal_zone0/type":                "gpu-thermal\n",
		"sys/class/thermal/thermal_zone0/temp":                "39000\n",
		"sys/class/thermal/thermal_zone1/type":                "cpu-thermal\n",
		"sys/class/thermal/thermal_zone1/temp":                "51540\n",
		"sys/devices/platform/soc/soc:firmware/get_throttled": "50005\n",
		"proc/loadavg": "0.42 0.30 0.25 1/123 4567\n",
		"proc/meminfo": "MemTotal:        3884000 kB\nMemFree:  100 kB\nMemAvailable:    2911000 kB\n",
	} {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	synced := func(tx *unix.Timex) (int, error) { return unix.TIME_OK, nil }
	b := HALBoard(board.New(board.Config{Root: root}, board.Deps{Adjtimex: synced})).ReadBoard()
	if b.TempMilliC == nil || *b.TempMilliC != 51540 || b.Throttled == nil || *b.Throttled != 0x50005 ||
		b.Load1 == nil || *b.Load1 != 0.42 || b.MemTotalKiB == nil || *b.MemTotalKiB != 3884000 || *b.MemAvailKiB != 2911000 || b.Clock != wire.ClockSynced {
		t.Fatalf("board %+v", b)
	}
	unsynced := func(tx *unix.Timex) (int, error) { return unix.TIME_ERROR, nil }
	e := HALBoard(board.New(board.Config{Root: t.TempDir()}, board.Deps{Adjtimex: unsynced})).ReadBoard()
	if e.TempMilliC != nil || e.Throttled != nil || e.Load1 != nil || e.MemTotalKiB != nil || e.Clock != wire.ClockUnsynced {
		t.Fatalf("empty tree: %+v", e)
	}
}
