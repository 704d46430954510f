package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	periph "periph.io/x/conn/v3/gpio"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/hal/gpio"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
)

// keyFaultHold is how long the status LED shows a missing root key before
// the process exits non-zero (the supervisor restarts it with a back-off of
// at most 60 s, so the LED shows the fault most of the time).
const keyFaultHold = 2 * time.Minute

// reportedError is a failure already reported in one log line: dispatch
// exits 1 without printing it again.
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// refuseKeyFault is what a start does when the root key is unavailable
// (issue 13): exactly one ERROR line naming the provider and the cause,
// the refusal noted in keyprov.FaultFile (the only file it writes), the
// fault pattern on the status LED if one is configured (for
// dc.keyFaultHold or until ctx ends), then a non-zero exit. Recording does
// not start.
func refuseKeyFault(ctx context.Context, dc daemonConfig, cause error, log *slog.Logger) error {
	prov := "unknown"
	if p, err := storage.ReadProvider(dc.DataDir); err == nil {
		prov = p.String()
	}
	led := ""
	if dc.Config != nil {
		led = dc.Config.GPIO.StatusLED
	}
	msg := fmt.Sprintf("recording refused: the root key is unavailable from provider %s (no fallback)", prov)
	attrs := []any{"provider", prov, "cause", cause.Error(), "data", dc.DataDir}
	if led != "" {
		attrs = append(attrs, "fault_led", led)
	}
	log.Error(msg, attrs...)
	if err := keyprov.NoteFault(dc.DataDir, prov, cause, time.Now()); err != nil {
		log.Warn("the refusal could not be noted for the next start", "err", err)
	}
	if led != "" {
		hold := dc.keyFaultHold
		if hold <= 0 {
			hold = keyFaultHold
		}
		showFault(ctx, led, dc.gpioLookup, hold, log.With("part", "panel"))
	}
	return reportedError{fmt.Errorf("%s: %w", msg, cause)}
}

// showFault drives the status LED with the fault pattern for hold (or
// until ctx ends). No GPIO on the machine is not an error.
func showFault(ctx context.Context, led string, lookup func(string) (periph.PinIO, error), hold time.Duration, log *slog.Logger) {
	g, err := gpio.New(gpio.Pins{StatusLED: led}, gpio.Deps{
		Logger: log, Lookup: lookup,
		Health: func() gpio.Level { return gpio.LevelFault },
	})
	if err != nil || !g.Available() {
		if err != nil {
			log.Warn("fault LED", "err", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, hold)
	defer cancel()
	_ = g.Run(ctx)
}

// reportKeyFaults tells, once the root key is back, about the starts that
// were refused without it: a device audit record, an upstream
// keys.unavailable event (when an uplink is configured) and a log line;
// then the record is removed.
func reportKeyFaults(ctx context.Context, dir string, up *uplink.Uplink, ps *policy.Store, tracker *health.Tracker, log *slog.Logger) {
	rec, ok := keyprov.ReadFault(dir)
	if !ok {
		return
	}
	code := rec.Provider
	if code == "" || !wire.ValidCode(code) {
		code = "unknown"
	}
	first, last := rec.First.UTC().Format(time.RFC3339), rec.Last.UTC().Format(time.RFC3339)
	log.Warn("recording was refused earlier: the root key was unavailable", "provider", rec.Provider, "starts", rec.Count, "first", first, "last", last, "cause", rec.Cause)
	detail := fmt.Sprintf("recording refused at %d start(s) from %s to %s: root key unavailable from provider %s: %s", rec.Count, first, last, rec.Provider, rec.Cause)
	if len(detail) > 900 {
		detail = detail[:900]
	}
	auditDevice(ctx, ps, tracker, log, audit.Event{Action: uplink.EventKeysUnavailable, TargetKind: audit.KindDevice, Result: "refused", Detail: detail})
	if up != nil {
		if err := up.Event(ctx, uplink.Event{Kind: uplink.EventKeysUnavailable, Code: code, Count: rec.Count, Time: rec.First, Value: rec.Last.UnixMilli()}); err != nil {
			log.Warn("keys.unavailable event not queued", "err", err)
		}
	}
	if err := keyprov.ClearFault(dir); err != nil {
		log.Warn("removing the key fault record", "err", err)
	}
}
