package keyfault

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	periph "periph.io/x/conn/v3/gpio"

	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/hal/gpio"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
)

// DefaultHold is how long the status LED shows a missing root key before
// the process exits non-zero (the supervisor restarts it with a back-off
// of at most 60 s, so the LED shows the fault most of the time).
const DefaultHold = 2 * time.Minute

// Config of a refusal.
type Config struct {
	DataDir   string
	StatusLED string        // gpio.status_led; "" = no LED
	Hold      time.Duration // 0 = DefaultHold
	// Lookup replaces periph's pin lookup (tests).
	Lookup func(name string) (periph.PinIO, error)
}

// Refuse is a start without the root key (see the package doc). It returns
// the error the start ends with (it wraps cause); the caller has nothing
// more to log.
func Refuse(ctx context.Context, cfg Config, cause error, log *slog.Logger) error {
	prov := "unknown"
	if p, err := storage.ReadProvider(cfg.DataDir); err == nil {
		prov = p.String()
	}
	msg := fmt.Sprintf("recording refused: the root key is unavailable from provider %s (no fallback)", prov)
	attrs := []any{"provider", prov, "cause", cause.Error(), "data", cfg.DataDir}
	if cfg.StatusLED != "" {
		attrs = append(attrs, "fault_led", cfg.StatusLED)
	}
	log.Error(msg, attrs...)
	if err := keyprov.NoteFault(cfg.DataDir, prov, cause, time.Now()); err != nil {
		log.Warn("the refusal could not be noted for the next start", "err", err)
	}
	if cfg.StatusLED != "" {
		hold := cfg.Hold
		if hold <= 0 {
			hold = DefaultHold
		}
		showFault(ctx, cfg.StatusLED, cfg.Lookup, hold, log.With("part", "panel"))
	}
	return fmt.Errorf("%s: %w", msg, cause)
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

// ReportDeps are where Report tells.
type ReportDeps struct {
	// Audit appends a device audit record (required).
	Audit func(ctx context.Context, e audit.Event)
	// Upstream queues the event for the ops broker; nil = no uplink.
	Upstream uplink.Queue
	Logger   *slog.Logger // nil = discard
}

// Report tells, once the root key is back, about the starts that were
// refused without it (see the package doc); nothing if there were none.
func Report(ctx context.Context, dir string, deps ReportDeps) {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
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
	deps.Audit(ctx, audit.Event{Action: uplink.EventKeysUnavailable, TargetKind: audit.KindDevice, Result: "refused", Detail: detail})
	if deps.Upstream != nil {
		if err := deps.Upstream.Event(ctx, uplink.Event{Kind: uplink.EventKeysUnavailable, Code: code, Count: rec.Count, Time: rec.First, Value: rec.Last.UnixMilli()}); err != nil {
			log.Warn("keys.unavailable event not queued", "err", err)
		}
	}
	if err := keyprov.ClearFault(dir); err != nil {
		log.Warn("removing the key fault record", "err", err)
	}
}
