package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/hal/board"
	"github.com/edgerec/edgerec/policy/audit"
	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

type nopAuditor struct{}

func (nopAuditor) Audit(context.Context, audit.Event) (audit.Record, error) {
	return audit.Record{}, nil
}

// TestStartPanelWiresGPIO: the daemon's wiring of the front panel (R24):
// an opened tamper switch on the (fake) pins reaches health as a critical
// alert, and the LED then blinks the fault pattern instead of staying on.
func TestStartPanelWiresGPIO(t *testing.T) {
	led := &gpiotest.Pin{N: "GPIO17", Num: 17}
	tamper := &gpiotest.Pin{N: "GPIO27", Num: 27, L: gpio.High} // closed (pull-up, normally closed)
	pins := map[string]gpio.PinIO{"GPIO17": led, "GPIO27": tamper}
	dc := daemonConfig{Config: &config.Config{GPIO: config.GPIO{StatusLED: "GPIO17", Tamper: "GPIO27"}},
		gpioLookup: func(n string) (gpio.PinIO, error) { return pins[n], nil }}
	tr := health.NewTracker("d", "v", nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	panel := startPanel(ctx, &wg, dc, tr, nopAuditor{}, nil, slog.New(slog.DiscardHandler))
	if panel.Armed() {
		t.Fatal("armed at start")
	}
	tamper.Out(gpio.Low) // opened
	deadline := time.Now().Add(5 * time.Second)
	for health.PanelLight(tr.Snapshot()) != health.LightFault {
		if time.Now().After(deadline) {
			t.Fatal("tamper never raised a critical alert")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Fault blinks: the LED is seen off within a second.
	for deadline = time.Now().Add(5 * time.Second); led.Read() == gpio.High; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("LED never blinked for the fault")
		}
	}
}

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
	b := uplinkBoard{board.New(board.Config{Root: root}, board.Deps{Adjtimex: synced})}.ReadBoard()
	if b.TempMilliC == nil || *b.TempMilliC != 51540 || b.Throttled == nil || *b.Throttled != 0x50005 ||
		b.Load1 == nil || *b.Load1 != 0.42 || b.MemTotalKiB == nil || *b.MemTotalKiB != 3884000 || *b.MemAvailKiB != 2911000 || b.Clock != wire.ClockSynced {
		t.Fatalf("board %+v", b)
	}
	unsynced := func(tx *unix.Timex) (int, error) { return unix.TIME_ERROR, nil }
	e := uplinkBoard{board.New(board.Config{Root: t.TempDir()}, board.Deps{Adjtimex: unsynced})}.ReadBoard()
	if e.TempMilliC != nil || e.Throttled != nil || e.Load1 != nil || e.MemTotalKiB != nil || e.Clock != wire.ClockUnsynced {
		t.Fatalf("empty tree: %+v", e)
	}
}
