package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/edgerec/edgerec/edge/cameras"
	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
	"github.com/edgerec/edgerec/storage/keys"
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
	// Issue 13, R32: the uplink client key named by path is checked now
	// and sealed into the vault below; the installed config refers to it.
	var upKeyPEM []byte
	if u := c.Uplink; u != nil && u.Key != "" {
		if strings.HasPrefix(u.Key, config.VaultPrefix) {
			return fmt.Errorf("uplink.key %q: a new device has nothing sealed yet; give the path of the PEM key file (provision seals it)", u.Key)
		}
		if upKeyPEM, err = readUplinkKeyFile(u); err != nil {
			return err
		}
		defer clear(upKeyPEM)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	cfgOut := filepath.Join(abs, "edgerec.yaml")
	if _, err := os.Stat(cfgOut); err == nil {
		return fmt.Errorf("%s exists: %w (refusing to re-provision a device)", cfgOut, storage.ErrExists)
	}
	checks, err := installChecks(abs, c.Storage.RingPath, int64(c.Storage.RingSize))
	if err != nil {
		return err
	}
	for _, n := range checks {
		fmt.Fprintln(e.stderr, "check: "+n)
	}
	ks := keySettingsOf(c.Storage)
	if prov == storage.ProviderRPiOTP {
		if err := keyprov.PrepareOTP(ctx, ks, *programOTP, e.stderr); err != nil {
			return err
		}
	}
	kps := keyprov.Providers(abs, ks, nil)
	if err := storage.Provision(ctx, abs, storage.ProvisionOptions{RingSize: int64(c.Storage.RingSize), RingPath: c.Storage.RingPath, Provider: prov, Keys: kps}); err != nil {
		return err
	}
	if prov == storage.ProviderFile {
		fmt.Fprintln(e.stderr, "warning: key provider file: "+storage.FileProviderWarning+" (use --key-provider tpm2 or rpi-otp on a gateway)")
	}
	vault, err := storage.OpenVault(ctx, abs, kps)
	if err != nil {
		return err
	}
	pub, err := policy.Provision(ctx, abs, vault)
	if err != nil {
		return err
	}
	fp, err := web.ProvisionCertificate(abs, *id, time.Now(), vault)
	if err != nil {
		return err
	}
	if upKeyPEM != nil {
		if c.Uplink.Key, err = sealUplinkKey(abs, vault, c.Uplink.Key, upKeyPEM); err != nil {
			return err
		}
	}
	if c.Uplink != nil {
		pw, err := sealUplinkPassword(abs, vault, string(c.Uplink.Password))
		if err != nil {
			return err
		}
		c.Uplink.Password = config.Secret(pw)
	}
	code, err := web.ProvisionSetupCode(abs)
	if err != nil {
		return err
	}
	moved, err := sealConfigPasswords(ctx, abs, c, vault)
	if err != nil {
		return err
	}
	if moved > 0 {
		fmt.Fprintf(e.stderr, "camera passwords: %d moved into the vault (%s keeps only references); %s still holds them in clear: delete it\n", moved, cfgOut, *cfgPath)
	}
	data, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := cameras.WriteConfigFile(cfgOut, data, c); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "provisioned device %s in %s\nroot key:     %s\nring:         %s\nsigning key:  ed25519 %s\n              %s  (record it off the device: exports and wipe certificates are signed with it; edgerec verify --key)\nTLS cert:     SHA-256 %s  (the LAN page's certificate: check it in the browser)\nsetup code:   %s  (one time: creates the first admin on the LAN page)\nconfig:       %s\nstart:        edgerec run --config %s\n",
		*id, abs, storage.ProviderNote(prov.String()), c.Storage.RingSize, devkey.Fingerprint(pub), export.EncodeKey(pub), fp, code, cfgOut, cfgOut)
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

// writeFileAtomic is hal/fsutil.WriteFile (temporary file, fsync, rename,
// directory fsync), under the name the subcommands use.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return fsutil.WriteFile(path, data, mode)
}

// sealConfigPasswords moves the inline camera passwords of c (provision
// --config) into the vault of the freshly provisioned store in dir; c keeps
// references (issue 13, R32). It returns how many it moved.
func sealConfigPasswords(ctx context.Context, dir string, c *config.Config, v *keys.Vault) (int, error) {
	return cameras.SealPasswords(dir, c, v)
}
