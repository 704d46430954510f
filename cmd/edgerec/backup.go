package main

import (
	"context"
	"fmt"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/hal/fsutil"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/devkey"
)

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
	ps, p, err := cliAdmin(ctx, e, *dir, *user, "backup")
	if err != nil {
		return err
	}
	defer ps.Close()
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

// buildBackup signs the backup (export.Backup) of the device in dir with
// its key from the vault: the CLI and the LAN page share it.
func buildBackup(ctx context.Context, ps *policy.Store, cfg *config.Config, dir, by string, vault devkey.Sealer) ([]byte, export.BackupDoc, error) {
	key, err := devkey.Load(dir, vault)
	if err != nil {
		return nil, export.BackupDoc{}, err
	}
	defer clear(key)
	return export.Backup(ctx, ps, cfg.Device.ID, cfg.String(), by, key)
}
