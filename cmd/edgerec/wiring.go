package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/provision"
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
	fail := func(err error) (*uplink.Uplink, *uplink.AuditPump) {
		log.Error("uplink disabled", "err", err)
		tracker.Raise("uplink.config", health.SevCritical, "uplink disabled: "+err.Error())
		return nil, nil
	}
	key, err := uplink.LoadOrCreateKey(uplink.KeyPath(dc.DataDir), vault)
	if err != nil {
		return fail(err)
	}
	cfg, warnings, err := provision.Uplink(dc.DataDir, dc.DeviceID, version, dc.Uplink, vault)
	if err != nil {
		return fail(err)
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	cfg.OutboxPath, cfg.IDKey, cfg.DeviceKey = filepath.Join(dc.DataDir, "outbox.db"), key, ps.PublicKey()
	var pump *uplink.AuditPump
	cfg.System, cfg.Slot = systemIdentity(context.Background()) // issue 16
	up, err := uplink.New(cfg, uplink.Deps{Health: tracker, Alerts: tracker, AuditHead: ps.Head, Logger: log.With("part", "uplink"),
		Board: uplink.HALBoard(board.New(board.Config{}, board.Deps{})), // R23
		// pump is set below, before the uplink runs and builds a beacon.
		AuditWithheld: func() uint64 { return pump.Withheld() }})
	if err != nil {
		return fail(err)
	}
	pump, err = uplink.NewAuditPump(uplink.PumpConfig{DataDir: dc.DataDir},
		uplink.PumpDeps{Source: ps, Queue: up, Logger: log.With("part", "uplink.audit")})
	if err != nil {
		_ = up.Close()
		return fail(err)
	}
	return up, pump
}
