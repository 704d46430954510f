package provision

import (
	"crypto/ed25519"
	"errors"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/policy/devkey"
)

// Identity is the device as its signed documents name it (jobs.Device):
// the device id and camera names from the current config, the cameras'
// opaque upstream ids from the uplink id key (R19), the signing key from the
// vault. The CLI's export and the daemon's export runner both use it.
type Identity struct {
	Dir    string
	Config func() *config.Config
	Vault  uplink.Sealer // nil: no signing key
}

// Subject names the device and camera in an export's manifest.
func (d Identity) Subject(camera string) export.Subject {
	cfg := d.Config()
	s := export.Subject{Device: cfg.Device.ID}
	for _, c := range cfg.Cameras {
		if c.ID == camera {
			s.CameraName = c.Name
		}
	}
	if k, err := uplink.LoadOrCreateKey(uplink.KeyPath(d.Dir), d.Vault); err == nil {
		s.OpaqueCameraID = uplink.OpaqueID(k, camera)
	}
	return s
}

// SigningKey loads the device's signing key; the caller clears it.
func (d Identity) SigningKey() (ed25519.PrivateKey, error) {
	if d.Vault == nil {
		return nil, errors.New("the store has no vault")
	}
	return devkey.Load(d.Dir, d.Vault)
}
