package provision

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/edgerec/edgerec/edge/cameras"
	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
)

// ConfigFile is the installed config's name in the data dir.
const ConfigFile = "edgerec.yaml"

// Request is one device to create.
type Request struct {
	// Config is the device's config, validated; its Storage.DataDir is
	// the absolute data dir, RingSize and KeyProvider are set.
	Config *config.Config
	// Source is the config file given by the operator ("" = none); it is
	// named when camera passwords were moved out of it.
	Source string
	// ProgramOTP is provision --program-otp (rpi-otp only).
	ProgramOTP string
	// Keys replaces the key settings derived from Config.Storage (tests:
	// a fake OTP mailbox); nil = derived.
	Keys *keyprov.Settings
	// Notes receives the install checks and warnings, one per line.
	Notes io.Writer
	// Restore, when set, makes this device the replacement of the one
	// whose verified backup it holds (issue 18): Config came from
	// RestoredConfig, and the old device's accounts are taken over
	// (policy.Store.Restore) before anyone can set the device up.
	Restore *Restore
}

// Result is the device created.
type Result struct {
	Provider       storage.Provider
	PublicKey      ed25519.PublicKey // the device signing key
	TLSFingerprint string
	SetupCode      string
	ConfigPath     string
	MovedPasswords int // camera passwords moved into the vault
}

// Device creates the device described by req (see the package doc). A data
// dir that already holds a config is refused (never re-provisioned).
func Device(ctx context.Context, req Request) (Result, error) {
	c := req.Config
	dir := c.Storage.DataDir
	note := req.Notes
	if note == nil {
		note = io.Discard
	}
	var res Result
	prov, err := storage.ParseProvider(c.Storage.KeyProvider)
	if err != nil {
		return res, err
	}
	res.Provider = prov
	// The uplink client key named by path is checked now and sealed into
	// the vault below; the installed config refers to it.
	var upKeyPEM []byte
	if u := c.Uplink; u != nil && u.Key != "" {
		if strings.HasPrefix(u.Key, config.VaultPrefix) {
			return res, fmt.Errorf("uplink.key %q: a new device has nothing sealed yet; give the path of the PEM key file (provision seals it)", u.Key)
		}
		if upKeyPEM, err = readUplinkKeyFile(u); err != nil {
			return res, err
		}
		defer clear(upKeyPEM)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("data dir: %w", err)
	}
	res.ConfigPath = filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(res.ConfigPath); err == nil {
		return res, fmt.Errorf("%s exists: %w (refusing to re-provision a device)", res.ConfigPath, storage.ErrExists)
	}
	checks, err := installChecks(dir, c.Storage.RingPath, int64(c.Storage.RingSize))
	if err != nil {
		return res, err
	}
	for _, n := range checks {
		fmt.Fprintln(note, "check: "+n)
	}
	ks := keyprov.Settings{Want: c.Storage.KeyProvider, TPM: c.Storage.TPM, TPMPCRs: c.Storage.TPMPCRs, OTPDevice: c.Storage.OTPDevice}
	if req.Keys != nil {
		ks = *req.Keys
	}
	if prov == storage.ProviderRPiOTP {
		if err := keyprov.PrepareOTP(ctx, ks, req.ProgramOTP, note); err != nil {
			return res, err
		}
	}
	kps := keyprov.Providers(dir, ks, nil)
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: int64(c.Storage.RingSize), RingPath: c.Storage.RingPath, Provider: prov, Keys: kps}); err != nil {
		return res, err
	}
	if prov == storage.ProviderFile {
		fmt.Fprintln(note, "warning: key provider file: "+storage.FileProviderWarning+" (use --key-provider tpm2 or rpi-otp on a gateway)")
	}
	vault, err := storage.OpenVault(ctx, dir, kps)
	if err != nil {
		return res, err
	}
	if res.PublicKey, err = policy.Provision(ctx, dir, vault); err != nil {
		return res, err
	}
	if req.Restore != nil {
		ps, err := policy.Open(ctx, policy.Config{DataDir: dir}, policy.Deps{Sealer: vault})
		if err != nil {
			return res, err
		}
		err = restoreAccounts(ctx, dir, ps, req.Restore)
		if cerr := ps.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return res, err
		}
	}
	if res.TLSFingerprint, err = web.ProvisionCertificate(dir, c.Device.ID, time.Now(), vault); err != nil {
		return res, err
	}
	if upKeyPEM != nil {
		if c.Uplink.Key, err = sealUplinkKey(dir, vault, c.Uplink.Key, upKeyPEM); err != nil {
			return res, err
		}
	}
	if c.Uplink != nil {
		pw, err := sealUplinkPassword(dir, vault, string(c.Uplink.Password))
		if err != nil {
			return res, err
		}
		c.Uplink.Password = config.Secret(pw)
	}
	if res.SetupCode, err = web.ProvisionSetupCode(dir); err != nil {
		return res, err
	}
	if res.MovedPasswords, err = cameras.SealPasswords(dir, c, vault); err != nil {
		return res, err
	}
	if res.MovedPasswords > 0 {
		fmt.Fprintf(note, "camera passwords: %d moved into the vault (%s keeps only references); %s still holds them in clear: delete it\n", res.MovedPasswords, res.ConfigPath, req.Source)
	}
	data, err := yaml.Marshal(c)
	if err != nil {
		return res, fmt.Errorf("write config: %w", err)
	}
	return res, cameras.WriteConfigFile(res.ConfigPath, data, c)
}

// Demo is the embedded demo's config in dir (made if missing): on the first
// start it is written to <dir>/edgerec.yaml, and later starts (and changes
// made on the LAN page) use that file, exactly like a provisioned device.
// It returns the config and the file's path.
func Demo(dir string) (*config.Config, string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", fmt.Errorf("demo dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, "", fmt.Errorf("demo dir: %w", err)
	}
	path := filepath.Join(abs, ConfigFile)
	if _, err := os.Stat(path); err == nil {
		c, err := config.Load(path)
		return c, path, err
	}
	c := config.Demo(abs)
	if err := c.Validate(); err != nil {
		return nil, "", fmt.Errorf("embedded demo config: %w", err)
	}
	data, err := c.Marshal()
	if err != nil {
		return nil, "", err
	}
	return c, path, cameras.WriteConfigFile(path, data, c)
}
