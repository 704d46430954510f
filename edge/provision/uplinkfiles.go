package provision

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/hal/fsutil"
)

// UplinkFiles keeps the uplink's TLS material uploaded on the LAN page's
// Settings page (issue 18; web.UplinkStore): the client key sealed in the
// vault under config.VaultUplinkKey (<data>/uplink/key.sealed, as provision
// seals it), the CA bundle and the client certificate, which are public,
// as PEM files beside it (<data>/uplink/ca.pem, cert.pem). The daemon's
// Uplink opens them as it opens provisioned ones.
type UplinkFiles struct {
	DataDir string
	Vault   uplink.Sealer
}

func (f UplinkFiles) caPath() string   { return filepath.Join(f.DataDir, "uplink", "ca.pem") }
func (f UplinkFiles) certPath() string { return filepath.Join(f.DataDir, "uplink", "cert.pem") }

// UplinkRefs returns the values uplink.ca, uplink.cert and uplink.key take
// for material kept by StoreUplink.
func (f UplinkFiles) UplinkRefs() (ca, cert, key string) {
	return f.caPath(), f.certPath(), config.VaultPrefix + config.VaultUplinkKey
}

// StoreUplink keeps the given PEM parts (nil: keep), each written
// atomically; the key is sealed first, so a certificate never lies beside
// a key it does not pair with for longer than one rename. The caller
// checked the material (the certificate pairs with the key).
func (f UplinkFiles) StoreUplink(ctx context.Context, ca, cert, key []byte) error {
	if f.Vault == nil {
		return fmt.Errorf("uplink: the vault is not open")
	}
	if err := os.MkdirAll(filepath.Join(f.DataDir, "uplink"), 0o700); err != nil {
		return fmt.Errorf("uplink: %w", err)
	}
	if key != nil {
		if err := writeSealed(f.DataDir, config.VaultUplinkKey, f.Vault, key); err != nil {
			return fmt.Errorf("seal uplink key: %w", err)
		}
	}
	if cert != nil {
		if err := fsutil.WriteFile(f.certPath(), cert, 0o600); err != nil {
			return fmt.Errorf("uplink certificate: %w", err)
		}
	}
	if ca != nil {
		if err := fsutil.WriteFile(f.caPath(), ca, 0o600); err != nil {
			return fmt.Errorf("uplink CA: %w", err)
		}
	}
	return nil
}
