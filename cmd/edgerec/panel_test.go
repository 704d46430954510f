package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy/audit"
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
