package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/storage"
)

// daemonWiper decommissions a running device from the LAN wizard (R25),
// after the page has used the two-person decommission grant and the admin
// typed the device id: recording stops, the store is closed and wiped
// (root key first), the signed certificate is written and sent upstream,
// and the daemon exits; the remaining secrets (users and audit db, TLS and
// uplink keys, config, signing key) are removed when everything is closed.
type daemonWiper struct {
	dataDir  string
	keys     storage.KeyProviders
	deviceID string
	cams     *cameraManager
	stopAux  func() // stops the maintenance loop that uses the store
	store    *storage.Store
	ps       *policy.Store
	up       *uplink.Uplink
	shutdown func()
	tracker  *health.Tracker
	log      *slog.Logger

	mu   sync.Mutex
	done atomic.Bool
}

func (d *daemonWiper) Decommission(ctx context.Context, grantID, actorID string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done.Load() {
		return nil, fmt.Errorf("this device is already wiped")
	}
	// The signing key opens under the vault, whose key dies with the
	// store's Close: load it first (and refuse before stopping anything).
	vault := d.store.Vault()
	if vault == nil {
		return nil, fmt.Errorf("decommission: the store has no vault")
	}
	key, err := devkey.Load(d.dataDir, vault)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	d.log.Warn("decommission: stopping recording and wiping", "grant", grantID)
	if d.tracker != nil {
		d.tracker.Raise(alertWiping, health.SevCritical, "decommission: the device is wiping itself")
	}
	d.cams.StopAll()
	d.stopAux()
	if err := d.store.Close(); err != nil {
		d.log.Error("decommission: closing store", "err", err)
	}
	rep, err := storage.Wipe(ctx, d.dataDir, storage.WipeOptions{Keys: d.keys})
	if err != nil {
		return nil, fmt.Errorf("wipe: %w", err)
	}
	d.done.Store(true)
	g, _ := d.ps.Grant(ctx, grantID)
	names := userNames(ctx, d.ps)
	cert := export.NewWipeCertificate(d.deviceID, rep, time.Now())
	cert.Trigger, cert.Grant, cert.Admin = "grant", grantID, names[actorID]
	if grantID == "" {
		cert.Trigger = "button" // wipe button held 10 s + this admin's confirmation
	}
	for _, a := range g.Approvals {
		cert.Approver = names[a.By]
	}
	seq, head := d.ps.Head()
	cert.AuditSeq, cert.AuditHead = seq, fmt.Sprintf("%x", head)
	doc, err := export.SignWipeCertificate(cert, key)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(d.dataDir, "wipe-certificate.json"), doc, 0o644); err != nil {
		d.log.Error("decommission: writing certificate", "err", err)
	}
	if d.up != nil {
		if err := d.up.Event(ctx, uplink.Event{Kind: uplink.EventWipeCertificate, Detail: doc}); err != nil {
			d.log.Error("decommission: certificate not queued upstream", "err", err)
		} else {
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) && !(d.up.Connected() && d.up.OutboxStats().Count == 0) {
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	// Answer the page, then stop the daemon.
	time.AfterFunc(2*time.Second, d.shutdown)
	return doc, nil
}

// finish removes what is left of the device's identity once every part has
// closed its files (called by runDaemon on exit).
func (d *daemonWiper) finish() {
	if !d.done.Load() {
		return
	}
	removed := append(removeDeviceSecrets(d.dataDir), removeUplinkFiles(d.dataDir)...)
	p := filepath.Join(d.dataDir, devkey.PrivateFile)
	if fi, err := os.Stat(p); err == nil {
		overwriteFile(p, fi.Size())
		_ = os.Remove(p)
		removed = append(removed, devkey.PrivateFile)
	}
	d.log.Warn("decommission complete: the device will not record until provisioned again", "removed", removed)
}
