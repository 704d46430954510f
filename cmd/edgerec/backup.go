package main

import (
	"context"
	"fmt"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/hal/fsutil"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/policy/perm"
)

// backupKind is the signed document kind of a device state backup.
const backupKind = "edgerec.backup.v1"

// backupUser is a user as backed up: everything but the password hash
// (decision: a backup must carry no secret; after a restore every user
// sets a new password, which is what a compromised backup needs anyway).
type backupUser struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Role        string    `json:"role,omitempty"`
	RoleGrant   string    `json:"role_grant,omitempty"`
	RoleExpires time.Time `json:"role_expires,omitzero"`
	Cameras     []string  `json:"cameras,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`
	Trained     time.Time `json:"trained,omitzero"`
	LastLogin   time.Time `json:"last_login,omitzero"`
	Created     time.Time `json:"created"`
}

type backupDoc struct {
	Device  string         `json:"device"`
	Created time.Time      `json:"created"`
	By      string         `json:"by"`
	Config  string         `json:"config"` // edgerec.yaml with secrets redacted
	Users   []backupUser   `json:"users"`
	Audit   []audit.Record `json:"audit"`
	Head    uint64         `json:"audit_head_seq"`
}

func ts(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// cmdBackup writes the device's own state (R26): config with secrets
// redacted, users without password hashes, and the whole audit log, as one
// document signed by the device key. It never contains video or keys.
// Only an admin may take it; taking it is audited.
func cmdBackup(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "backup", "--data DIR --user ADMIN -o OUT.json")
	dir := fs.String("data", "", "data directory")
	user := fs.String("user", "", "admin user name (password from $EDGEREC_PASSWORD or stdin)")
	out := fs.String("o", "", "output file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *user == "" || *out == "" {
		return usageError{"--data, --user and -o are required"}
	}
	cfg, err := deviceConfig(*dir)
	if err != nil {
		return err
	}
	ps, p, err := cliLogin(ctx, e, *dir, *user)
	if err != nil {
		return err
	}
	defer ps.Close()
	if p.Role != perm.Admin {
		_, _ = ps.Audit(ctx, audit.Event{Actor: p.ID, Action: "backup", TargetKind: audit.KindDevice, Result: "refused", Detail: "not an admin"})
		return fmt.Errorf("backup: %s is not an admin", *user)
	}
	if _, err := ps.Audit(ctx, audit.Event{Actor: p.ID, Action: "backup", TargetKind: audit.KindDevice, Result: audit.ResultOK}); err != nil {
		return err
	}
	vault, err := cliVault(ctx, *dir)
	if err != nil {
		return err
	}
	signed, doc, err := buildBackup(ctx, ps, cfg, *dir, p.Name, vault)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(*out, signed, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backup of %s: %d users (no password hashes), %d audit records, config (secrets redacted) → %s\n",
		cfg.Device.ID, len(doc.Users), len(doc.Audit), *out)
	return nil
}

// buildBackup makes the signed backup document (R26) of the device in dir:
// config with secrets redacted, users without password hashes, the whole
// audit log. The CLI and the LAN page (GET /api/v1/backup) share it.
func buildBackup(ctx context.Context, ps *policy.Store, cfg *config.Config, dir, by string, vault devkey.Sealer) ([]byte, backupDoc, error) {
	doc := backupDoc{Device: cfg.Device.ID, Created: time.Now().UTC(), By: by, Config: cfg.String()}
	us, err := ps.Users(ctx)
	if err != nil {
		return nil, doc, err
	}
	for _, u := range us {
		doc.Users = append(doc.Users, backupUser{
			ID: u.ID, Name: u.Name, Role: u.Role, RoleGrant: u.RoleGrant, RoleExpires: ts(u.RoleExpires),
			Cameras: u.Cameras, Disabled: u.Disabled, Trained: ts(u.Trained), LastLogin: ts(u.LastLogin), Created: ts(u.Created),
		})
	}
	for seq := uint64(0); ; {
		recs, err := ps.AuditAfter(ctx, seq, 1000)
		if err != nil {
			return nil, doc, err
		}
		if len(recs) == 0 {
			break
		}
		doc.Audit = append(doc.Audit, recs...)
		seq = recs[len(recs)-1].Seq
	}
	doc.Head, _ = ps.Head()
	key, err := devkey.Load(dir, vault)
	if err != nil {
		return nil, doc, err
	}
	defer clear(key)
	signed, err := export.SignDoc(backupKind, doc, key)
	return signed, doc, err
}
