package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/hal/gpio"
)

// alertWiping is raised while the device wipes itself (the LED shows it).
const alertWiping = health.AlertWiping

// startPanel wires the front panel (edge/health's Panel: R24, R25) to the
// pins (hal/gpio: status LED, tamper switch, wipe button). A machine
// without GPIO, or a config without pins, gets a log note, not an error;
// the returned panel still answers Armed (false) for the LAN page.
func startPanel(ctx context.Context, wg *sync.WaitGroup, dc daemonConfig, tracker *health.Tracker, au health.Auditor, up *uplink.Uplink, log *slog.Logger) *health.Panel {
	deps := health.PanelDeps{Tracker: tracker, Audit: au, Logger: log}
	if up != nil {
		deps.Upstream = func(ctx context.Context, opened bool) error {
			if opened {
				return up.Event(ctx, uplink.Event{Kind: uplink.EventTamper, Code: "opened"})
			}
			return up.Event(ctx, uplink.Event{Kind: uplink.EventTamper, Code: "closed", Severity: health.SevInfo})
		}
	}
	pins := dc.Config.GPIO
	if pins.StatusLED == "" && pins.Tamper == "" && pins.WipeButton == "" {
		log.Info("front panel: no GPIO pins configured")
		return health.NewPanel(health.PanelConfig{}, deps)
	}
	var panel *health.Panel // set before gpio runs
	g, err := gpio.New(gpio.Pins{StatusLED: pins.StatusLED, Tamper: pins.Tamper, WipeButton: pins.WipeButton}, gpio.Deps{
		Logger:      log,
		Lookup:      dc.gpioLookup, // nil = periph's
		OnTamper:    func(opened bool) { panel.Tamper(ctx, opened) },
		OnWipeArmed: func() { panel.WipeArmed(ctx) },
	})
	if err != nil {
		log.Error("front panel", "err", err)
		tracker.Raise("gpio", health.SevWarning, "front panel: "+err.Error())
		return health.NewPanel(health.PanelConfig{}, deps)
	}
	deps.Indicator = gpioLight{g}
	panel = health.NewPanel(health.PanelConfig{}, deps)
	if !g.Available() {
		log.Info("front panel: " + g.Note())
		return panel
	}
	wg.Add(2)
	go func() { defer wg.Done(); _ = g.Run(ctx) }()
	go func() { defer wg.Done(); _ = panel.Run(ctx) }()
	return panel
}

// gpioLight adapts hal/gpio's LED to health.Indicator.
type gpioLight struct{ g *gpio.GPIO }

func (l gpioLight) SetLight(v health.Light) {
	switch v {
	case health.LightWiping:
		l.g.SetLevel(gpio.LevelWiping)
	case health.LightFault:
		l.g.SetLevel(gpio.LevelFault)
	case health.LightDegraded:
		l.g.SetLevel(gpio.LevelDegraded)
	default:
		l.g.SetLevel(gpio.LevelOK)
	}
}
