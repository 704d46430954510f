package uplink

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy"
)

// Alerter raises and resolves front-panel warnings (*health.Tracker).
type Alerter interface {
	Raise(key string, sev health.Severity, text string)
	Resolve(key string)
}

// Queue takes an event for upstream (*Uplink).
type Queue interface {
	Event(ctx context.Context, e Event) error
}

// SecurityRelay carries security events of the policy store and the LAN
// page (issue 12, R22, R24) upstream as events and onto the front panel.
// The policy store is opened before the uplink, so the uplink is given to
// Run later; events before that wait in a bounded queue (and are audited by
// their source regardless). Callers (policy commits, logins) never block:
// an event that finds the queue full is logged and dropped.
type SecurityRelay struct {
	alerts Alerter
	log    *slog.Logger
	ch     chan Event
}

// NewSecurityRelay returns a relay; log may be nil.
func NewSecurityRelay(alerts Alerter, log *slog.Logger) *SecurityRelay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SecurityRelay{alerts: alerts, log: log, ch: make(chan Event, 256)}
}

// PolicyEvent is policy.Deps.Security.
func (r *SecurityRelay) PolicyEvent(ev policy.SecurityEvent) {
	val := int64(0)
	if ev.OK {
		val = 1
	}
	r.log.Warn("security event", "code", ev.Code, "actor", ev.Actor, "target", ev.Target, "ok", ev.OK)
	r.send(Event{Kind: EventAccountSecurity, Code: ev.Code, Value: val, Count: 1, Time: ev.Time})
}

// LoginBurst is web.SecurityAlerts: an upstream login.burst event and a
// front-panel warning that clears by itself after the window.
func (r *SecurityRelay) LoginBurst(failures int, window time.Duration) {
	r.alerts.Raise("login.burst", health.SevWarning, fmt.Sprintf("burst of failed logins on the LAN page (%d in %s)", failures, window))
	time.AfterFunc(window, func() { r.alerts.Resolve("login.burst") })
	r.send(Event{Kind: EventLoginBurst, Count: uint64(failures), Value: int64(window / time.Second)})
}

// MaintenanceVisit is web.SecurityAlerts: an upstream maintenance.visit
// event with the counts only (issue 18).
func (r *SecurityRelay) MaintenanceVisit(cameras, recent int) {
	r.send(Event{Kind: EventMaintenanceVisit, Count: uint64(cameras), Value: int64(recent)})
}

func (r *SecurityRelay) send(ev Event) {
	select {
	case r.ch <- ev:
	default:
		r.log.Error("security event dropped: relay queue full", "kind", ev.Kind, "code", ev.Code)
	}
}

// Run forwards queued events to q until ctx ends; q nil (no uplink):
// events are dropped after logging.
func (r *SecurityRelay) Run(ctx context.Context, q Queue) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.ch:
			if q == nil {
				continue
			}
			if err := q.Event(ctx, ev); err != nil {
				r.log.Error("security event not queued upstream", "kind", ev.Kind, "err", err)
			}
		}
	}
}
