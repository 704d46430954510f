package provision

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/redact"
	"github.com/edgerec/edgerec/policy"
)

// Restore is a verified backup of the gateway this one replaces (issue 18,
// R26): the caller opened it with export.OpenBackup pinned to the old
// device's key.
type Restore struct {
	Doc export.BackupDoc
	// Raw is the signed backup file, kept in the data dir as
	// restored-from-<device>.json (the old device's audit log for the
	// auditors).
	Raw []byte
	// KeyID is the old device's key fingerprint (export.KeyID).
	KeyID string
}

// RestoredConfig is the replacement's config: the site as the old device
// had it (cameras with their masks, zones, signage and schedules; policy;
// the site's name, school flag, filing number and time zone; LAN, GPIO and
// ONVIF settings) on this device's own identity, storage and uplink (own
// is what the installer gave for the new device). The backup carries no
// secret: a camera source's user and password, and secret-looking query
// values, were redacted when it was taken, so they are removed here and
// each such camera is named in the notes (enter them on the LAN page).
func RestoredConfig(own *config.Config, doc export.BackupDoc) (*config.Config, []string, error) {
	old, err := config.Parse([]byte(doc.Config), "backup of "+doc.Device)
	if err != nil {
		return nil, nil, fmt.Errorf("restore: the backup's config: %w", err)
	}
	if old.Device.ID != doc.Device {
		return nil, nil, fmt.Errorf("restore: the backup is of device %q but its config says %q", doc.Device, old.Device.ID)
	}
	c := *old
	c.Device.ID = own.Device.ID
	c.Storage = own.Storage
	c.Uplink = own.Uplink
	var notes []string
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		cam.Credential = ""
		src, lost := stripRedacted(string(cam.Source))
		sub, subLost := stripRedacted(string(cam.SubSource))
		cam.Source, cam.SubSource = config.URL(src), config.URL(sub)
		if lost || subLost {
			notes = append(notes, fmt.Sprintf("camera %s: its user name and password were not in the backup: enter them on the LAN page (Cameras → edit)", cam.ID))
		}
	}
	if err := c.Validate(); err != nil {
		return nil, nil, fmt.Errorf("restore: the backup's config on this device: %w", err)
	}
	return &c, notes, nil
}

// stripRedacted removes what the backup redacted from a camera URL (the
// userinfo, secret query values) and reports whether it did.
func stripRedacted(s string) (string, bool) {
	if s == "" || !strings.Contains(s, redact.Redacted) {
		return s, false
	}
	u, err := url.Parse(s)
	if err != nil {
		return s, false // Validate names it
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			if len(vs) == 1 && vs[0] == redact.Redacted {
				q.Del(k)
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String(), true
}

// restoreAccounts takes over the old device's accounts (policy.Restore:
// no password, no role; the first audit record links to the old head) and
// keeps the signed backup in the data dir.
func restoreAccounts(ctx context.Context, dir string, ps *policy.Store, r *Restore) error {
	seq, hash, err := r.Doc.LastRecord()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	pr := policy.Restored{FromDevice: r.Doc.Device, FromKey: r.KeyID, Created: r.Doc.Created, By: r.Doc.By, Head: seq, HeadHash: hash}
	for _, u := range r.Doc.Users {
		pr.Users = append(pr.Users, policy.RestoredUser{Name: u.Name, Role: u.Role, Cameras: u.Cameras, Trained: u.Trained, Disabled: u.Disabled})
	}
	if err := ps.Restore(ctx, pr); err != nil {
		return err
	}
	name := filepath.Join(dir, "restored-from-"+r.Doc.Device+".json")
	if err := os.WriteFile(name, r.Raw, 0o600); err != nil {
		return fmt.Errorf("restore: keep the backup: %w", err)
	}
	return nil
}
