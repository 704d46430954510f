package provision

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export/decommission"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/hal/fsutil"
)

// SealedPath is the file that holds the secret sealed under vault name in
// a data dir: <data>/<name>.sealed ("uplink/key" → <data>/uplink/key.sealed).
func SealedPath(dataDir, name string) string {
	return filepath.Join(dataDir, filepath.FromSlash(name)+".sealed")
}

// readUplinkKeyFile reads the uplink client key that the config names by
// path and checks that it is a PEM private key that pairs with uplink.cert
// (one clear error before anything is provisioned).
func readUplinkKeyFile(u *config.Uplink) ([]byte, error) {
	keyPEM, err := os.ReadFile(u.Key)
	if err != nil {
		return nil, fmt.Errorf("uplink.key: %w", err)
	}
	certPEM, err := os.ReadFile(u.Cert)
	if err != nil {
		clear(keyPEM)
		return nil, fmt.Errorf("uplink.cert: %w (the key is checked against it before it is sealed)", err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		clear(keyPEM)
		return nil, fmt.Errorf("uplink.key %s with uplink.cert %s: %w", u.Key, u.Cert, err)
	}
	return keyPEM, nil
}

// sealUplinkKey seals the uplink client key into the vault
// (<data>/uplink/key.sealed, 0600) and returns the reference the installed
// config carries instead of the path. A key file that lay inside the data
// dir (the installer's bundle puts it there) is overwritten and removed:
// left there, it would defeat the seal.
func sealUplinkKey(dataDir string, v uplink.Sealer, keyFile string, keyPEM []byte) (string, error) {
	if err := writeSealed(dataDir, config.VaultUplinkKey, v, keyPEM); err != nil {
		return "", fmt.Errorf("seal uplink key: %w", err)
	}
	if insideDir(dataDir, keyFile) {
		if fi, err := os.Stat(keyFile); err == nil {
			decommission.Overwrite(keyFile, fi.Size())
		}
		if err := os.Remove(keyFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("remove the plain uplink key %s: %w", keyFile, err)
		}
	}
	return config.VaultPrefix + config.VaultUplinkKey, nil
}

// writeSealed seals plain under vault name into SealedPath (0600).
func writeSealed(dataDir, name string, v uplink.Sealer, plain []byte) error {
	sealed, err := v.Seal(name, plain)
	if err != nil {
		return err
	}
	p := SealedPath(dataDir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return fsutil.WriteFile(p, sealed, 0o600)
}

// insideDir reports whether path lies inside dir.
func insideDir(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// uplinkTLSKey resolves uplink.key for the uplink: a vault reference is
// opened from the vault (keyPEM), a plain path is returned as keyFile (the
// caller warns that it is not sealed). A reference whose sealed file is
// missing, or does not open under this device's vault, is an error.
func uplinkTLSKey(dataDir string, u *config.Uplink, v uplink.Sealer) (keyFile string, keyPEM []byte, err error) {
	if u.Key == "" {
		return "", nil, nil
	}
	if !strings.HasPrefix(u.Key, config.VaultPrefix) {
		return u.Key, nil, nil
	}
	name, ok := config.UplinkKeyRef(u.Key)
	if !ok {
		return "", nil, fmt.Errorf("uplink.key %q is not a vault reference", u.Key)
	}
	if v == nil {
		return "", nil, errors.New("uplink.key is sealed but the vault is not open")
	}
	p := SealedPath(dataDir, name)
	sealed, err := os.ReadFile(p)
	if err != nil {
		return "", nil, fmt.Errorf("uplink.key %s: %w (provision seals the key named by path in the config)", u.Key, err)
	}
	keyPEM, err = v.Open(name, sealed)
	if err != nil {
		return "", nil, fmt.Errorf("uplink.key %s (%s): %w", u.Key, p, err)
	}
	return "", keyPEM, nil
}

// sealUplinkPassword seals a plain uplink.password (MQTT) into the vault
// (<data>/uplink/password.sealed) and returns the reference the installed
// config carries instead (issue 13: no secret in the YAML).
func sealUplinkPassword(dataDir string, v uplink.Sealer, pw string) (string, error) {
	if pw == "" || strings.HasPrefix(pw, config.VaultPrefix) {
		return pw, nil
	}
	if err := writeSealed(dataDir, config.VaultUplinkPassword, v, []byte(pw)); err != nil {
		return "", fmt.Errorf("seal uplink password: %w", err)
	}
	return config.VaultPrefix + config.VaultUplinkPassword, nil
}

// uplinkPassword resolves uplink.password: a vault reference is opened,
// a plain value is returned as it is (and plain reports it).
func uplinkPassword(dataDir string, u *config.Uplink, v uplink.Sealer) (pw string, plain bool, err error) {
	s := string(u.Password)
	if s == "" {
		return "", false, nil
	}
	if !strings.HasPrefix(s, config.VaultPrefix) {
		return s, true, nil
	}
	name, ok := config.UplinkKeyRef(s)
	if !ok {
		return "", false, errors.New("uplink.password is not a valid vault reference")
	}
	if v == nil {
		return "", false, errors.New("uplink.password is sealed but the vault is not open")
	}
	sealed, err := os.ReadFile(SealedPath(dataDir, name))
	if err != nil {
		return "", false, fmt.Errorf("uplink.password %s: %w", s, err)
	}
	b, err := v.Open(name, sealed)
	if err != nil {
		return "", false, fmt.Errorf("uplink.password %s: %w", s, err)
	}
	return string(b), false, nil
}

// Uplink is the uplink's configuration from the config's uplink section,
// with its secrets opened from the vault v (issue 13, R32): the client key
// and the MQTT password given as "vault:" references. Secrets still given in
// the clear work, and each comes back as a warning (provision seals them).
// A reference that does not open is an error.
func Uplink(dataDir, deviceID, firmware string, u *config.Uplink, v uplink.Sealer) (c uplink.Config, warnings []string, err error) {
	keyFile, keyPEM, err := uplinkTLSKey(dataDir, u, v)
	if err != nil {
		return c, nil, err
	}
	pw, plainPass, err := uplinkPassword(dataDir, u, v)
	if err != nil {
		clear(keyPEM)
		return c, nil, err
	}
	if plainPass {
		warnings = append(warnings, "uplink: uplink.password is plain text in the config, NOT sealed: provision seals it (uplink.password: vault:uplink/password)")
	}
	if keyFile != "" {
		warnings = append(warnings, "uplink: the client key "+keyFile+" is a plain file, NOT sealed in the vault: whoever holds the storage can read it; provision seals it (uplink.key: vault:uplink/key)")
	}
	return uplink.Config{
		Broker: string(u.Broker), AllowPlaintext: u.AllowPlaintext, CAFile: u.CA, CertFile: u.Cert, KeyFile: keyFile, KeyPEM: keyPEM,
		Username: u.Username, Password: pw, TopicPrefix: u.TopicPrefix, DeviceID: deviceID, Firmware: firmware,
		BeaconInterval: u.BeaconInterval.D(),
	}, warnings, nil
}
