package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/provision"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/storage"
)

func cmdProvision(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "provision", "--data DIR --device-id ID [--ring-size SIZE] [--config FILE] [--key-provider tpm2|rpi-otp|file] [--tpm DEV] [--program-otp SERIAL]")
	dir := fs.String("data", "", "data directory to create the device in")
	id := fs.String("device-id", "", "device id (a-z, 0-9, - and _)")
	ringSize := fs.String("ring-size", "", "ring size, e.g. 8GiB (default: the config's storage.ring_size)")
	cfgPath := fs.String("config", "", "config file to validate and install (default: a minimal one)")
	keyProv := fs.String("key-provider", "", "where the root key lives: tpm2, rpi-otp, or file (demo/development only; default: the config's storage.key_provider, else file)")
	tpmDev := fs.String("tpm", "", "TPM device (default /dev/tpmrm0) or unix:PATH / tcp:127.0.0.1:PORT for swtpm")
	programOTP := fs.String("program-otp", "", "rpi-otp only: program a device key into the OTP if none is there; IRREVERSIBLE; give the board serial (from `vcgencmd otp_dump`, row 28) as confirmation")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *id == "" {
		return usageError{"--data and --device-id are required"}
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
	if err := c.Validate(); err != nil {
		return err
	}
	res, err := provision.Device(ctx, provision.Request{Config: c, Source: *cfgPath, ProgramOTP: *programOTP, Notes: e.stderr})
	if err != nil {
		return err
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
