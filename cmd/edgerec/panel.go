package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/hal/board"
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

// clockSynced reports whether the kernel clock is NTP-synchronized; until
// it is, segments carry the "clock not yet synced" flag (a Pi has no RTC).
func clockSynced(b *board.Board) func() bool {
	return func() bool {
		st, err := b.ClockSync()
		return err == nil && st == board.ClockSynced
	}
}

// startWatchdog feeds the hardware watchdog while every recording camera
// delivered a frame within the last 30 s (the box reboots if the recorder
// hangs). Enabled with `run --watchdog /dev/watchdog`.
func startWatchdog(ctx context.Context, wg *sync.WaitGroup, path string, b *board.Board, tracker *health.Tracker, log *slog.Logger) error {
	if path == "" {
		return nil
	}
	wd, err := b.OpenWatchdog(board.WatchdogConfig{Path: path, Logger: log})
	if err != nil {
		return err
	}
	healthy := func() bool {
		for _, c := range tracker.Snapshot().Cameras {
			if c.State == health.StateRecording && time.Since(c.LastFrame) > 30*time.Second {
				return false
			}
		}
		return true
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := wd.Keepalive(ctx, healthy); err != nil && ctx.Err() == nil {
			log.Error("watchdog starved: the recorder is stuck; the board will reboot", "err", err)
		}
	}()
	return nil
}
