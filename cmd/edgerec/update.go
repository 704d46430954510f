package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/edgerec/edgerec/edge/update"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/storage"
)

// The gateway image's update parts (buildroot/board/edgerec; issue 16). A
// host without them has no updater (the page answers 503).
const (
	updateKeyring     = "/etc/edgerec/update-ca.pem"
	updateChooser     = "/usr/libexec/edgerec/boot-chooser"
	systemVersionFile = "/etc/edgerec/system-version"
	updateCompatible  = "edgerec-gateway"
)

// systemIdentity is the running system image's version and root slot for
// the beacons ("" when this is not an A/B gateway).
func systemIdentity(ctx context.Context) (system, slot string) {
	if _, err := os.Stat(updateChooser); err != nil {
		return "", ""
	}
	slot, err := update.ScriptChooser{Path: updateChooser}.Current(ctx)
	if err != nil {
		slot = ""
	}
	return update.ReadSystemVersion(systemVersionFile), slot
}

// startUpdater starts the updater on a gateway that has a vendor keyring
// and the boot chooser; nil otherwise. Healthy (for the trial of a new
// slot) is a segment sealed since this start: the store's synced log has
// advanced and its closed-segment count changed.
func startUpdater(ctx context.Context, wg *sync.WaitGroup, dataDir string, store *storage.Store, ps *policy.Store, log *slog.Logger) web.Updates {
	if _, err := os.Stat(updateKeyring); err != nil {
		return nil
	}
	base := store.Stats()
	u, err := update.New(ctx, update.Config{Dir: filepath.Join(dataDir, "update"), Keyring: updateKeyring, Compatible: updateCompatible,
		SystemVersion: update.ReadSystemVersion(systemVersionFile)},
		update.Deps{Chooser: update.ScriptChooser{Path: updateChooser}, Grants: ps, Logger: log,
			Healthy: func() bool {
				st := store.Stats()
				return st.HeadLSN > base.HeadLSN && st.ClosedSegments != base.ClosedSegments
			},
			Reboot: func() error { return exec.Command("/sbin/reboot").Run() }})
	if err != nil {
		log.Error("updates disabled", "err", err)
		return nil
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = u.Run(ctx) }()
	return webUpdates{u}
}

// webUpdates adapts *update.Updater to web.Updates.
type webUpdates struct{ u *update.Updater }

func (w webUpdates) Stage(ctx context.Context, r io.Reader) (web.UpdateStaged, error) {
	st, err := w.u.Stage(ctx, r)
	return web.UpdateStaged{Digest: st.Digest, Version: st.Version, Signer: st.Signer, Size: st.Size}, err
}

func (w webUpdates) Apply(ctx context.Context, grantID, actorID, digest string) error {
	return w.u.Apply(ctx, grantID, actorID, digest)
}

func (w webUpdates) Status() any { return w.u.Status() }
