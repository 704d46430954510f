package main

import (
	"path/filepath"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/provision"
)

// demoConfig is the embedded demo (provision.Demo: its config is written
// to <dir>/edgerec.yaml on the first start, and later starts and changes
// made on the LAN page use that file, exactly like a provisioned device).
func demoConfig(dir string) (daemonConfig, error) {
	c, path, err := provision.Demo(dir)
	if err != nil {
		return daemonConfig{}, err
	}
	dc, err := fromConfig(c, path)
	if err != nil {
		return dc, err
	}
	dc.Demo = true
	dc.SegmentLength = 10 * time.Second // closed segments show up quickly in the demo
	if dc.RingSize == 0 {
		dc.RingSize = demoRingSize
	}
	return dc, nil
}

func loadConfig(path string) (daemonConfig, error) {
	c, err := config.Load(path)
	if err != nil {
		return daemonConfig{}, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return daemonConfig{}, err
	}
	return fromConfig(c, abs)
}

// fromConfig converts a validated config into what the daemon runs.
// Policy decisions that refuse a camera (R1, R3) do not fail the device:
// the camera manager refuses that camera with the reason and audits it.
func fromConfig(c *config.Config, path string) (daemonConfig, error) {
	dc := daemonConfig{
		DeviceID:       c.Device.ID,
		DataDir:        c.Storage.DataDir,
		RingSize:       int64(c.Storage.RingSize),
		FlushInterval:  c.Storage.FlushInterval.D(),
		RetentionFloor: c.Retention().WithDefaults().Floor,
		Listen:         c.LAN.Listen,

		LiveMaxPerUser:  c.LAN.LiveMaxPerUser,
		LiveMaxDuration: c.LAN.LiveMaxDuration.D(),
		Config:          c,
		ConfigPath:      path,

		GrantMaxValidity: c.Policy.GrantMaxValidity.D(),
		StaleAfter:       time.Duration(c.Policy.StaleAccountDays) * 24 * time.Hour,
		Uplink:           c.Uplink,
		Keys:             keySettingsOf(c.Storage),
		Allowlist:        c.LAN.AllowPrefixes(),
	}
	return dc, nil
}
