package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
)

// openPolicy opens the policy store (users, grants, audit) of a data dir,
// provisioning it first for the demo.
func openPolicy(ctx context.Context, dc daemonConfig, log *slog.Logger, security func(policy.SecurityEvent)) (*policy.Store, error) {
	if dc.Demo {
		if _, err := os.Stat(filepath.Join(dc.DataDir, policy.DBFile)); os.IsNotExist(err) {
			if _, err := policy.Provision(ctx, dc.DataDir); err != nil {
				return nil, fmt.Errorf("provision demo policy store: %w", err)
			}
		}
	}
	ps, err := policy.Open(ctx, policy.Config{
		DataDir:    dc.DataDir,
		Limits:     grants.Limits{MaxValidity: dc.GrantMaxValidity},
		StaleAfter: dc.StaleAfter,
	}, policy.Deps{Log: log.With("part", "policy"), Security: security})
	if err != nil {
		return nil, fmt.Errorf("open policy store in %s: %w", dc.DataDir, err)
	}
	return ps, nil
}

// auditDevice appends a device-level audit record; failures are logged
// and raised (an audit that cannot be written is a fault).
func auditDevice(ctx context.Context, ps *policy.Store, tracker *health.Tracker, log *slog.Logger, e audit.Event) {
	if e.Actor == "" {
		e.Actor = "device"
	}
	if _, err := ps.Audit(ctx, e); err != nil {
		log.Error("audit append failed", "action", e.Action, "err", err)
		tracker.Raise("audit.write", health.SevCritical, "audit log write failed: "+err.Error())
	}
}

// startUplink builds the uplink from the config; a broken uplink never
// stops recording: it is logged and raised as a health alert.
func startUplink(dc daemonConfig, tracker *health.Tracker, ps *policy.Store, log *slog.Logger) *uplink.Uplink {
	if dc.Uplink == nil {
		return nil
	}
	u := dc.Uplink
	key, err := uplink.LoadOrCreateKey(uplink.KeyPath(dc.DataDir))
	if err != nil {
		log.Error("uplink disabled", "err", err)
		tracker.Raise("uplink.config", health.SevCritical, "uplink disabled: "+err.Error())
		return nil
	}
	up, err := uplink.New(uplink.Config{
		Broker: string(u.Broker), AllowPlaintext: u.AllowPlaintext, CAFile: u.CA, CertFile: u.Cert, KeyFile: u.Key,
		Username: u.Username, Password: string(u.Password), TopicPrefix: u.TopicPrefix,
		DeviceID: dc.DeviceID, Firmware: version, BeaconInterval: u.BeaconInterval.D(),
		OutboxPath: filepath.Join(dc.DataDir, "outbox.db"), IDKey: key,
	}, uplink.Deps{Health: tracker, Alerts: tracker, AuditHead: ps.Head, Logger: log.With("part", "uplink")})
	if err != nil {
		log.Error("uplink disabled", "err", err)
		tracker.Raise("uplink.config", health.SevCritical, "uplink disabled: "+err.Error())
		return nil
	}
	return up
}

// pumpAudit forwards every audit record, in order, into the uplink's
// durable outbox (R16). The position is kept in <data>/uplink-audit.seq,
// written after each batch is queued: a crash in between re-sends records
// with the same sequence numbers, which the receiver sees as duplicates.
func pumpAudit(ctx context.Context, dataDir string, ps *policy.Store, up *uplink.Uplink, log *slog.Logger) {
	posFile := filepath.Join(dataDir, "uplink-audit.seq")
	var pos uint64
	if b, err := os.ReadFile(posFile); err == nil {
		pos, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		recs, err := ps.AuditAfter(ctx, pos, 256)
		if err != nil && ctx.Err() == nil {
			log.Error("audit pump: read", "err", err)
		}
		for i := range recs {
			r := &recs[i]
			h, err := audit.HashRecord(r)
			if err != nil {
				log.Error("audit pump: hash", "seq", r.Seq, "err", err)
				break
			}
			ar := uplink.AuditRecord{
				Seq: r.Seq, Time: time.Unix(0, r.Time), Actor: r.Actor, Action: r.Action,
				Grant: r.Grant, OK: r.Result == "" || r.Result == "ok", Hash: h, Prev: r.Prev,
			}
			switch r.TargetKind {
			case audit.KindCamera:
				if r.Target != "" {
					ar.Cameras = []string{r.Target}
				}
			default:
				if r.Target != "" {
					ar.Targets = []string{r.Target}
				}
			}
			if err := up.Audit(ctx, ar); err != nil {
				log.Warn("audit pump: queue", "seq", r.Seq, "err", err)
				break
			}
			pos = r.Seq
		}
		if len(recs) > 0 {
			_ = writeFileAtomic(posFile, []byte(strconv.FormatUint(pos, 10)+"\n"), 0o600)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// securityRelay carries security events of the policy store and the LAN
// page (issue 12, R22, R24) upstream as events and onto the front panel. The
// policy store is opened before the uplink, so the uplink is attached
// later; events before that are logged and still audited. Sending happens
// on its own goroutine: the callers (policy commits, logins) never block.
type securityRelay struct {
	tracker *health.Tracker
	log     *slog.Logger
	ch      chan uplink.Event
}

func newSecurityRelay(tracker *health.Tracker, log *slog.Logger) *securityRelay {
	return &securityRelay{tracker: tracker, log: log, ch: make(chan uplink.Event, 256)}
}

// policyEvent is policy.Deps.Security.
func (r *securityRelay) policyEvent(ev policy.SecurityEvent) {
	val := int64(0)
	if ev.OK {
		val = 1
	}
	r.log.Warn("security event", "code", ev.Code, "actor", ev.Actor, "target", ev.Target, "ok", ev.OK)
	r.send(uplink.Event{Kind: uplink.EventAccountSecurity, Code: ev.Code, Value: val, Count: 1, Time: ev.Time})
}

// LoginBurst is web.SecurityAlerts: an upstream login.burst event and a
// front-panel warning that clears by itself after the window.
func (r *securityRelay) LoginBurst(failures int, window time.Duration) {
	r.tracker.Raise("login.burst", health.SevWarning, fmt.Sprintf("burst of failed logins on the LAN page (%d in %s)", failures, window))
	time.AfterFunc(window, func() { r.tracker.Resolve("login.burst") })
	r.send(uplink.Event{Kind: uplink.EventLoginBurst, Count: uint64(failures), Value: int64(window / time.Second)})
}

func (r *securityRelay) send(ev uplink.Event) {
	select {
	case r.ch <- ev:
	default:
		r.log.Error("security event dropped: relay queue full", "kind", ev.Kind, "code", ev.Code)
	}
}

// run forwards queued events to up (nil: no uplink; events are dropped
// after logging) until ctx ends.
func (r *securityRelay) run(ctx context.Context, up *uplink.Uplink) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.ch:
			if up == nil {
				continue
			}
			if err := up.Event(ctx, ev); err != nil {
				r.log.Error("security event not queued upstream", "kind", ev.Kind, "err", err)
			}
		}
	}
}
