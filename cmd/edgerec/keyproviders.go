package main

import (
	"log/slog"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
)

// keySettingsOf is where the root key's hardware is (storage.key_provider,
// storage.tpm, storage.tpm_pcrs, storage.otp_device; issue 13).
func keySettingsOf(s config.Storage) keyprov.Settings {
	return keyprov.Settings{Want: s.KeyProvider, TPM: s.TPM, TPMPCRs: s.TPMPCRs, OTPDevice: s.OTPDevice}
}

// dirKeys is the provider lookup for commands that get only --data: the
// settings come from <dir>/edgerec.yaml (defaults if it cannot be read:
// /dev/tpmrm0, /dev/vcio).
func dirKeys(dir string, log *slog.Logger) storage.KeyProviders {
	var ks keyprov.Settings
	if c, err := deviceConfig(dir); err == nil {
		ks = keySettingsOf(c.Storage)
	}
	return keyprov.Providers(dir, ks, log)
}
