package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/edgerec/edgerec/edge/cameras"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
)

// cmdRekey replaces the device root key (issue 13): every key file is
// rewrapped under a new root from the same or another provider (moving a
// demo-provisioned store onto a TPM, for example); footage is not
// rewritten. The recorder must be stopped. An admin signs in; the rekey and
// its outcome are audited.
func cmdRekey(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "rekey", "--data DIR --user ADMIN [--key-provider tpm2|rpi-otp|file] [--tpm DEV]")
	dir := fs.String("data", "", "data directory (the recorder stopped)")
	user := fs.String("user", "", "admin user name (password from $EDGEREC_PASSWORD or stdin)")
	keyProv := fs.String("key-provider", "", "provider of the new root (default: the current one)")
	tpmDev := fs.String("tpm", "", "TPM device or unix:PATH / tcp:127.0.0.1:PORT (default: the config's storage.tpm)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *user == "" {
		return usageError{"--data and --user are required"}
	}
	var to storage.Provider
	if *keyProv != "" {
		p, err := storage.ParseProvider(*keyProv)
		if err != nil {
			return usageError{"--key-provider: " + err.Error()}
		}
		to = p
	}
	cfg, err := deviceConfig(*dir)
	if err != nil {
		return err
	}
	ks := keySettingsOf(cfg.Storage)
	if *tpmDev != "" {
		ks.TPM = *tpmDev
	}
	ps, p, err := cliAdmin(ctx, e, *dir, *user, "device.rekey")
	if err != nil {
		return err
	}
	defer ps.Close()
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := storage.Rekey(ctx, *dir, storage.RekeyOptions{
		Keys:     keyprov.Providers(*dir, ks, log),
		Staged:   keyprov.Staged(*dir, ks, log),
		Provider: to,
		Logger:   log,
	})
	if err != nil {
		_, _ = ps.Audit(ctx, audit.Event{Actor: p.ID, Action: "device.rekey", TargetKind: audit.KindDevice, Result: "failed", Detail: err.Error()})
		return fmt.Errorf("rekey: %w", err)
	}
	detail := fmt.Sprintf("root key %s → %s; %d epoch keys and %d hold keys rewrapped", rep.From, rep.To, rep.Epochs, rep.Holds)
	if _, err := ps.Audit(ctx, audit.Event{Actor: p.ID, Action: "device.rekey", TargetKind: audit.KindDevice, Result: audit.ResultOK, Detail: detail}); err != nil {
		return fmt.Errorf("rekey done, but the audit record failed: %w", err)
	}
	if cfg.Storage.KeyProvider != rep.To.String() || (*tpmDev != "" && cfg.Storage.TPM != *tpmDev) {
		// The config names the provider the store now uses (a start with
		// the old name would be refused).
		cfg.Storage.KeyProvider = rep.To.String()
		if *tpmDev != "" {
			cfg.Storage.TPM = *tpmDev
		}
		data, err := cfg.Marshal()
		if err == nil {
			err = cameras.WriteConfigFile(filepath.Join(*dir, "edgerec.yaml"), data, cfg)
		}
		if err != nil {
			return fmt.Errorf("rekey done, but %s/edgerec.yaml could not be updated to storage.key_provider: %s: %w", *dir, rep.To, err)
		}
	}
	fmt.Fprintf(e.stdout, "rekeyed: %s (took %v)\nroot key: %s\n", detail, rep.Took.Round(1e6), storage.ProviderNote(rep.To.String()))
	return nil
}
