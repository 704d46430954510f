package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/hal/board"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/storage"
)

// openPolicy opens the policy store (users, grants, audit) of a data dir,
// provisioning it first for the demo. Its secrets are sealed under the
// recording store's vault (issue 13).
func openPolicy(ctx context.Context, dc daemonConfig, store *storage.Store, log *slog.Logger, security func(policy.SecurityEvent)) (*policy.Store, error) {
	vault := store.Vault()
	if vault == nil {
		return nil, fmt.Errorf("open policy store in %s: the recording store has no vault", dc.DataDir)
	}
	if dc.Demo {
		if _, err := os.Stat(filepath.Join(dc.DataDir, policy.DBFile)); os.IsNotExist(err) {
			if _, err := policy.Provision(ctx, dc.DataDir, vault); err != nil {
				return nil, fmt.Errorf("provision demo policy store: %w", err)
			}
		}
	}
	ps, err := policy.Open(ctx, policy.Config{
		DataDir:    dc.DataDir,
		Limits:     grants.Limits{MaxValidity: dc.GrantMaxValidity},
		StaleAfter: dc.StaleAfter,
	}, policy.Deps{Log: log.With("part", "policy"), Security: security, Sealer: vault})
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

// startUplink builds the uplink and its audit pump (R16) from the config;
// a broken uplink never stops recording: it is logged and raised as a
// health alert.
//
// The camera-id key and the client key (a "vault:" reference in the
// config) are opened from the vault (issue 13, R32). A client key given as
// a plain path still works; the daemon warns that it is not sealed (it does
// not import it: that would rewrite the installed config behind the
// installer's back).
func startUplink(dc daemonConfig, tracker *health.Tracker, ps *policy.Store, vault uplink.Sealer, log *slog.Logger) (*uplink.Uplink, *uplink.AuditPump) {
	if dc.Uplink == nil {
		return nil, nil
	}
	u := dc.Uplink
	key, err := uplink.LoadOrCreateKey(uplink.KeyPath(dc.DataDir), vault)
	if err != nil {
		log.Error("uplink disabled", "err", err)
		tracker.Raise("uplink.config", health.SevCritical, "uplink disabled: "+err.Error())
		return nil, nil
	}
	keyFile, keyPEM, err := uplinkTLSKey(dc.DataDir, u, vault)
	if err != nil {
		log.Error("uplink disabled", "err", err)
		tracker.Raise("uplink.config", health.SevCritical, "uplink disabled: "+err.Error())
		return nil, nil
	}
	upPass, plainPass, err := uplinkPassword(dc.DataDir, u, vault)
	if err != nil {
		log.Error("uplink disabled", "err", err)
		tracker.Raise("uplink.config", health.SevCritical, "uplink disabled: "+err.Error())
		return nil, nil
	}
	if plainPass {
		log.Warn("uplink: uplink.password is plain text in the config, NOT sealed: provision seals it (uplink.password: vault:uplink/password)")
	}
	if keyFile != "" {
		log.Warn("uplink: the client key is a plain file, NOT sealed in the vault: whoever holds the storage can read it; provision seals it (uplink.key: vault:uplink/key)", "path", keyFile)
	}
	var pump *uplink.AuditPump
	sysVersion, sysSlot := systemIdentity(context.Background()) // issue 16
	up, err := uplink.New(uplink.Config{
		Broker: string(u.Broker), AllowPlaintext: u.AllowPlaintext, CAFile: u.CA, CertFile: u.Cert, KeyFile: keyFile, KeyPEM: keyPEM,
		Username: u.Username, Password: upPass, TopicPrefix: u.TopicPrefix,
		DeviceID: dc.DeviceID, Firmware: version, System: sysVersion, Slot: sysSlot, BeaconInterval: u.BeaconInterval.D(),
		OutboxPath: filepath.Join(dc.DataDir, "outbox.db"), IDKey: key, DeviceKey: ps.PublicKey(),
	}, uplink.Deps{Health: tracker, Alerts: tracker, AuditHead: ps.Head, Logger: log.With("part", "uplink"),
		Board: uplinkBoard{board.New(board.Config{}, board.Deps{})}, // R23
		// pump is set below, before the uplink runs and builds a beacon.
		AuditWithheld: func() uint64 { return pump.Withheld() }})
	if err != nil {
		log.Error("uplink disabled", "err", err)
		tracker.Raise("uplink.config", health.SevCritical, "uplink disabled: "+err.Error())
		return nil, nil
	}
	pump, err = uplink.NewAuditPump(uplink.PumpConfig{DataDir: dc.DataDir},
		uplink.PumpDeps{Source: ps, Queue: up, Logger: log.With("part", "uplink.audit")})
	if err != nil {
		_ = up.Close()
		log.Error("uplink disabled", "err", err)
		tracker.Raise("uplink.config", health.SevCritical, "uplink disabled: "+err.Error())
		return nil, nil
	}
	return up, pump
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
