package health

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/edgerec/edgerec/policy/audit"
)

// Light is what the status LED shows (R24), in increasing severity;
// LightWiping overrides everything.
type Light int

// Lights.
const (
	LightOK Light = iota
	LightDegraded
	LightFault
	LightWiping
)

func (l Light) String() string {
	switch l {
	case LightOK:
		return "ok"
	case LightDegraded:
		return "degraded"
	case LightFault:
		return "fault"
	case LightWiping:
		return "wiping"
	}
	return "unknown"
}

// AlertWiping is raised while the device wipes itself; the LED shows it.
const AlertWiping = "wiping"

// PanelLight maps health to the status LED (R24): a wipe in progress is
// wiping, a critical alert is a fault, a warning or a camera that is not
// recording (nor refused by policy) is degraded.
func PanelLight(s Snapshot) Light {
	for _, a := range s.Alerts {
		if a.Code == AlertWiping {
			return LightWiping
		}
	}
	l := LightOK
	for _, c := range s.Cameras {
		if c.State != StateRecording && c.State != StateRefused {
			l = LightDegraded
		}
	}
	switch s.Worst() {
	case SevCritical:
		return LightFault
	case SevWarning:
		l = max(l, LightDegraded)
	}
	return l
}

// Indicator is the front panel's light. hal/gpio's GPIO drives the real
// LED (cmd/edgerec adapts its SetLevel); SetLight never blocks.
type Indicator interface {
	SetLight(Light)
}

// Auditor writes the panel's audit records (the policy store).
type Auditor interface {
	Audit(ctx context.Context, e audit.Event) (audit.Record, error)
}

// PanelConfig tunes the panel; zero values are the defaults.
type PanelConfig struct {
	// Every is how often the light follows health (0 = 50 ms, the GPIO
	// sampling period).
	Every time.Duration
	// ArmedFor is how long a held wipe button lets an admin confirm a
	// wipe without a decommission grant (0 = 5 min, R25).
	ArmedFor time.Duration
}

// PanelDeps are the panel's collaborators; Tracker is required.
type PanelDeps struct {
	Tracker   *Tracker
	Indicator Indicator // nil: no light (the inputs still work)
	Audit     Auditor   // nil: not audited (tests)
	// Upstream queues the tamper event for the uplink (nil: no uplink).
	Upstream func(ctx context.Context, opened bool) error
	Logger   *slog.Logger
	Now      func() time.Time
}

// Panel is the front panel's behaviour (R24, R25): the status LED follows
// the health snapshot; the tamper switch raises a critical alert, an
// upstream event and an audit record; the wipe button held 10 s arms the
// LAN page's wipe confirmation for ArmedFor. The pins themselves are
// hal/gpio's: cmd/edgerec wires gpio's OnTamper and OnWipeArmed to Tamper
// and WipeArmed and the Indicator to gpio's LED.
type Panel struct {
	cfg  PanelConfig
	deps PanelDeps
	log  *slog.Logger

	mu    sync.Mutex
	armed time.Time
}

// NewPanel returns a panel; it panics without a Tracker (a wiring bug).
func NewPanel(cfg PanelConfig, deps PanelDeps) *Panel {
	if deps.Tracker == nil {
		panic("health: NewPanel without a Tracker")
	}
	if cfg.Every <= 0 {
		cfg.Every = 50 * time.Millisecond
	}
	if cfg.ArmedFor <= 0 {
		cfg.ArmedFor = 5 * time.Minute
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Panel{cfg: cfg, deps: deps, log: deps.Logger}
}

// Run keeps the light in step with health until ctx ends (nil then).
// Without an Indicator it only waits.
func (p *Panel) Run(ctx context.Context) error {
	if p.deps.Indicator == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	last := Light(-1)
	for {
		if l := PanelLight(p.deps.Tracker.Snapshot()); l != last {
			p.deps.Indicator.SetLight(l)
			last = l
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tamper handles the enclosure switch: opened is a critical alert until it
// closes; both are sent upstream and audited as the device (R24).
func (p *Panel) Tamper(ctx context.Context, opened bool) {
	res := "closed"
	if opened {
		res = "opened"
		p.deps.Tracker.Raise("tamper", SevCritical, "enclosure opened (tamper switch)")
	} else {
		p.deps.Tracker.Resolve("tamper")
	}
	if p.deps.Upstream != nil {
		if err := p.deps.Upstream(ctx, opened); err != nil {
			p.log.Warn("front panel: event not queued", "err", err)
		}
	}
	p.audit(ctx, audit.Event{Actor: "device", Action: "tamper", TargetKind: audit.KindDevice, Result: res})
}

// WipeArmed handles the wipe button held 10 s: it arms the LAN page's wipe
// confirmation (Armed), raises a critical alert and is audited (R25).
// Arming only arms: an admin still confirms the wipe on the LAN page.
func (p *Panel) WipeArmed(ctx context.Context) {
	p.mu.Lock()
	p.armed = p.deps.Now()
	p.mu.Unlock()
	p.deps.Tracker.Raise("wipe.armed", SevCritical, "wipe button held 10 s: an admin must confirm the wipe on the LAN page")
	p.audit(ctx, audit.Event{Actor: "device", Action: "wipe.button", TargetKind: audit.KindDevice, Result: "armed"})
}

// Armed reports whether the wipe button was held within ArmedFor.
func (p *Panel) Armed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.armed.IsZero() && p.deps.Now().Sub(p.armed) < p.cfg.ArmedFor
}

func (p *Panel) audit(ctx context.Context, e audit.Event) {
	if p.deps.Audit == nil {
		return
	}
	if _, err := p.deps.Audit.Audit(context.WithoutCancel(ctx), e); err != nil {
		p.log.Error("front panel: audit", "action", e.Action, "err", err)
	}
}
