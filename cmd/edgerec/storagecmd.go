package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/provision"
	"github.com/edgerec/edgerec/edge/uplink/fleetd"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/storage"
)

func cmdProvision(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "provision", "--data DIR --device-id ID [--ring-size SIZE] [--config FILE] [--key-provider tpm2|rpi-otp|file] [--tpm DEV] [--program-otp SERIAL] [--restore BACKUP.json (--restore-key BASE64 | --fleet URL-or-FILE)]")
	dir := fs.String("data", "", "data directory to create the device in")
	id := fs.String("device-id", "", "device id (a-z, 0-9, - and _)")
	ringSize := fs.String("ring-size", "", "ring size, e.g. 8GiB (default: the config's storage.ring_size)")
	cfgPath := fs.String("config", "", "config file to validate and install (default: a minimal one)")
	keyProv := fs.String("key-provider", "", "where the root key lives: tpm2, rpi-otp, or file (demo/development only; default: the config's storage.key_provider, else file)")
	tpmDev := fs.String("tpm", "", "TPM device (default /dev/tpmrm0) or unix:PATH / tcp:127.0.0.1:PORT for swtpm")
	programOTP := fs.String("program-otp", "", "rpi-otp only: program a device key into the OTP if none is there; IRREVERSIBLE; give the board serial (from `vcgencmd otp_dump`, row 28) as confirmation")
	restoreFrom := fs.String("restore", "", "replace a gateway: its signed backup (edgerec backup, or Backup on its LAN page); cameras, masks, site settings and accounts (no passwords, no roles) are taken over")
	restoreKey := fs.String("restore-key", "", "with --restore: the replaced device's public key (base64, as its provision printed it)")
	fleetSrc := fs.String("fleet", "", "with --restore: take the replaced device's key from the fleet service (its URL, a saved /api/keys JSON, or its state file)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *id == "" {
		return usageError{"--data and --device-id are required"}
	}
	if (*restoreKey != "" || *fleetSrc != "") && *restoreFrom == "" {
		return usageError{"--restore-key and --fleet go with --restore"}
	}
	if *restoreFrom != "" && (*restoreKey == "") == (*fleetSrc == "") {
		return usageError{"--restore needs the replaced device's key: --restore-key BASE64 or --fleet URL-or-FILE (one of them)"}
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	var c *config.Config
	if *cfgPath != "" {
		if c, err = config.Load(*cfgPath); err != nil {
			return err
		}
		if c.Device.ID != *id {
			return fmt.Errorf("--device-id %q differs from device.id %q in %s", *id, c.Device.ID, *cfgPath)
		}
	} else {
		c = config.Demo(abs)
		c.Device = config.Device{ID: *id}
		c.Cameras = nil
	}
	c.Storage.DataDir = abs
	if *ringSize != "" {
		sz, err := config.ParseSize(*ringSize)
		if err != nil {
			return usageError{"--ring-size: " + err.Error()}
		}
		c.Storage.RingSize = sz
	}
	if c.Storage.RingSize == 0 {
		return usageError{"give --ring-size (or storage.ring_size in the config)"}
	}
	if *keyProv != "" {
		c.Storage.KeyProvider = *keyProv
	}
	if c.Storage.KeyProvider == "" {
		c.Storage.KeyProvider = "file"
	}
	if *tpmDev != "" {
		c.Storage.TPM = *tpmDev
	}
	prov, err := storage.ParseProvider(c.Storage.KeyProvider)
	if err != nil {
		return usageError{"--key-provider: " + err.Error()}
	}
	if *programOTP != "" && prov != storage.ProviderRPiOTP {
		return usageError{"--program-otp needs --key-provider rpi-otp"}
	}
	var restore *provision.Restore
	if *restoreFrom != "" {
		r, rc, notes, err := openRestore(ctx, e, *restoreFrom, *restoreKey, *fleetSrc, c)
		if err != nil {
			return err
		}
		restore, c = r, rc
		for _, n := range notes {
			fmt.Fprintln(e.stderr, "restore: "+n)
		}
	}
	if err := c.Validate(); err != nil {
		return err
	}
	res, err := provision.Device(ctx, provision.Request{Config: c, Source: *cfgPath, ProgramOTP: *programOTP, Notes: e.stderr, Restore: restore})
	if err != nil {
		return err
	}
	if restore != nil {
		seq, hash, _ := restore.Doc.LastRecord()
		fmt.Fprintf(e.stdout, "restored:     replaces %s (key %s): %d cameras, %d accounts without password or role; this device's audit log starts by linking to %s's head seq %d hash %.16s…\n"+
			"              next: the setup code claims the first admin (an account of the backup, or a new one); the admin gives each account a one-time password; roles come back through requests and an approver (the first approver once, as on any new gateway)\n",
			restore.Doc.Device, restore.KeyID, len(c.Cameras), len(restore.Doc.Users), restore.Doc.Device, seq, hash)
	}
	fmt.Fprintf(e.stdout, "provisioned device %s in %s\nroot key:     %s\nring:         %s\nsigning key:  ed25519 %s\n              %s  (record it off the device: exports and wipe certificates are signed with it; edgerec verify --key)\nTLS cert:     SHA-256 %s  (the LAN page's certificate: check it in the browser)\nsetup code:   %s  (one time: creates the first admin on the LAN page)\nconfig:       %s\nstart:        edgerec run --config %s\n",
		*id, abs, storage.ProviderNote(res.Provider.String()), c.Storage.RingSize, devkey.Fingerprint(res.PublicKey), export.EncodeKey(res.PublicKey), res.TLSFingerprint, res.SetupCode, res.ConfigPath, res.ConfigPath)
	return nil
}

func cmdCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "check", "--data DIR [--quick]")
	dir := fs.String("data", "", "data directory")
	quick := fs.Bool("quick", false, "verify a sample of segments instead of all")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageError{"--data is required"}
	}
	rep, err := storage.CheckDir(ctx, *dir, storage.CheckOptions{Quick: *quick, Keys: dirKeys(*dir, nil)})
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, rep.String())
	ok := rep.OK()
	arep, err := policy.VerifyDir(ctx, *dir, nil)
	if err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	fmt.Fprintln(e.stdout, strings.TrimRight(arep.String(), "\n"))
	ok = ok && arep.OK()
	if !ok {
		return errors.New("damage found (see above)")
	}
	return nil
}

// openRestore reads and verifies the backup of the gateway this one
// replaces, pinned to its key (given, or as the fleet service first saw
// it), and builds the replacement's config on own (issue 18). Nothing is
// written: a backup from another device or changed by one byte is refused
// here.
func openRestore(ctx context.Context, e *env, file, keyS, fleetSrc string, own *config.Config) (*provision.Restore, *config.Config, []string, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--restore: %w", err)
	}
	var pub ed25519.PublicKey
	if keyS != "" {
		// As provision printed it, or the line of its device.ed25519.pub.
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(keyS), "ed25519 "))
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, nil, nil, usageError{"--restore-key: want the replaced device's base64 ed25519 public key (as its provision printed it)"}
		}
		pub = b
	} else {
		claimed, _, err := export.OpenBackup(raw)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--restore %s: %w; nothing changed", file, err)
		}
		k, err := fleetd.LookupKey(ctx, fleetSrc, claimed.Device)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--fleet: %w; nothing changed", err)
		}
		if pub, err = k.PublicKey(); err != nil {
			return nil, nil, nil, fmt.Errorf("--fleet: %w; nothing changed", err)
		}
		fmt.Fprintf(e.stdout, "fleet key for %s: %s (first seen)\n", claimed.Device, k.Fingerprint)
	}
	doc, _, err := export.OpenBackup(raw, export.WithDeviceKey(pub))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--restore %s: %w; nothing changed", file, err)
	}
	if _, _, err := doc.LastRecord(); err != nil {
		return nil, nil, nil, fmt.Errorf("--restore %s: %w; nothing changed", file, err)
	}
	c, notes, err := provision.RestoredConfig(own, doc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--restore %s: %w; nothing changed", file, err)
	}
	return &provision.Restore{Doc: doc, Raw: raw, KeyID: export.KeyID(pub)}, c, notes, nil
}
