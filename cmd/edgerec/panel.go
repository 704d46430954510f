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
	"github.com/edgerec/edgerec/policy/audit"
)

// panelLevel maps health to the status LED (R24): a critical alert is a
// fault, a warning or a camera that is not recording is degraded.
func panelLevel(s health.Snapshot) gpio.Level {
	for _, a := range s.Alerts {
		if a.Code == alertWiping {
			return gpio.LevelWiping
		}
	}
	lvl := gpio.LevelOK
	for _, c := range s.Cameras {
		if c.State != health.StateRecording && c.State != health.StateRefused {
			lvl = gpio.LevelDegraded
		}
	}
	switch s.Worst() {
	case health.SevCritical:
		return gpio.LevelFault
	case health.SevWarning:
		lvl = max(lvl, gpio.LevelDegraded)
	}
	return lvl
}

// wipeButton remembers when the wipe button was last held 10 s: for five
// minutes after, an admin may confirm a wipe on the LAN page without a
// decommission grant (R25).
type wipeButton struct {
	mu    sync.Mutex
	armed time.Time
}

func (b *wipeButton) arm() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = time.Now()
}

// Armed reports whether the button was held within the last five minutes.
func (b *wipeButton) Armed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.armed.IsZero() && time.Since(b.armed) < 5*time.Minute
}

// alertWiping is raised while the device wipes itself (the LED shows it).
const alertWiping = "wiping"

// startPanel runs the front panel: status LED, tamper switch, wipe button
// (hal/gpio). A machine without GPIO, or a config without pins, gets a log
// note, not an error.
func startPanel(ctx context.Context, wg *sync.WaitGroup, dc daemonConfig, tracker *health.Tracker, au auditor, up *uplink.Uplink, button *wipeButton, log *slog.Logger) {
	pins := dc.Config.GPIO
	if pins.StatusLED == "" && pins.Tamper == "" && pins.WipeButton == "" {
		log.Info("front panel: no GPIO pins configured")
		return
	}
	event := func(e uplink.Event) {
		if up != nil {
			if err := up.Event(ctx, e); err != nil {
				log.Warn("front panel: event not queued", "err", err)
			}
		}
	}
	g, err := gpio.New(gpio.Pins{StatusLED: pins.StatusLED, Tamper: pins.Tamper, WipeButton: pins.WipeButton}, gpio.Deps{
		Logger: log,
		Health: func() gpio.Level { return panelLevel(tracker.Snapshot()) },
		OnTamper: func(opened bool) {
			if opened {
				tracker.Raise("tamper", health.SevCritical, "enclosure opened (tamper switch)")
				event(uplink.Event{Kind: uplink.EventTamper, Code: "opened"})
			} else {
				tracker.Resolve("tamper")
				event(uplink.Event{Kind: uplink.EventTamper, Code: "closed", Severity: health.SevInfo})
			}
			res := "closed"
			if opened {
				res = "opened"
			}
			_, _ = au.Audit(context.WithoutCancel(ctx), audit.Event{Actor: "device", Action: "tamper", TargetKind: audit.KindDevice, Result: res})
		},
		OnWipeArmed: func() {
			button.arm()
			tracker.Raise("wipe.armed", health.SevCritical, "wipe button held 10 s: an admin must confirm the wipe on the LAN page")
			_, _ = au.Audit(context.WithoutCancel(ctx), audit.Event{Actor: "device", Action: "wipe.button", TargetKind: audit.KindDevice, Result: "armed"})
		},
	})
	if err != nil {
		log.Error("front panel", "err", err)
		tracker.Raise("gpio", health.SevWarning, "front panel: "+err.Error())
		return
	}
	if !g.Available() {
		log.Info("front panel: " + g.Note())
		return
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = g.Run(ctx) }()
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
