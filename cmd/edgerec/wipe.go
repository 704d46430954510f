package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"time"

	"github.com/edgerec/edgerec/edge/cameras"
	"github.com/edgerec/edgerec/edge/export/decommission"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/storage"
)

// daemonDecommission wires the decommission procedure
// (edge/export/decommission) into the running daemon, for the LAN wizard
// (R25) after the page has used the two-person decommission grant (or the
// wipe button was held) and the admin typed the device id: recording
// stops, the store is closed and wiped, the signed certificate is written
// and sent through the running uplink, and the daemon exits; runDaemon
// removes the remaining secrets when everything is closed.
func daemonDecommission(dc daemonConfig, kps storage.KeyProviders, store *storage.Store, ps *policy.Store, up *uplink.Uplink,
	cams *cameras.Manager, stopAux, shutdown func(), tracker *health.Tracker, log *slog.Logger) *decommission.Decommissioner {
	return decommission.New(decommission.Config{DataDir: dc.DataDir, DeviceID: dc.DeviceID, Keys: kps, Secrets: decommission.DeviceSecrets()},
		decommission.Deps{Policy: ps, Logger: log,
			// The signing key opens under the vault, whose key dies with
			// the store's Close: it is loaded first.
			SigningKey: func() (ed25519.PrivateKey, error) {
				if store.Vault() == nil {
					return nil, errors.New("the store has no vault")
				}
				return devkey.Load(dc.DataDir, store.Vault())
			},
			Stop: func(context.Context) {
				tracker.Raise(alertWiping, health.SevCritical, "decommission: the device is wiping itself")
				cams.StopAll()
				stopAux()
				if err := store.Close(); err != nil {
					log.Error("decommission: closing store", "err", err)
				}
			},
			Send: func(ctx context.Context, doc []byte) string {
				if up == nil {
					return ""
				}
				err := up.Deliver(ctx, uplink.Event{Kind: uplink.EventWipeCertificate, Detail: doc}, 15*time.Second)
				if err != nil {
					log.Error("decommission: certificate not delivered upstream", "err", err)
				}
				return decommission.SentNote(err, uplink.ErrNotDelivered)
			},
			// Answer the page, then stop the daemon.
			Done: func() { time.AfterFunc(2*time.Second, shutdown) },
		})
}

// finishDecommission removes what is left of the device's identity once
// every part has closed its files (runDaemon on exit).
func finishDecommission(d *decommission.Decommissioner, log *slog.Logger) {
	if removed := d.RemoveSecrets(); removed != nil {
		log.Warn("decommission complete: the device will not record until provisioned again", "removed", removed)
	}
}
