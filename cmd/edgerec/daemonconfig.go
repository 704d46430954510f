package main

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/mask"
)

func demoConfig(dir string) (daemonConfig, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return daemonConfig{}, fmt.Errorf("demo dir: %w", err)
	}
	c := config.Demo(abs)
	if err := c.Validate(); err != nil {
		return daemonConfig{}, fmt.Errorf("embedded demo config: %w", err)
	}
	dc, err := fromConfig(c)
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
	return fromConfig(c)
}

func cameraMasks(c config.Camera) []mask.Mask { return c.MaskList() }

// fromConfig converts a validated config into what the daemon runs. Policy
// decisions that refuse a camera (R1) do not fail the whole device: the
// camera is marked refused with the reason, and the others record.
func fromConfig(c *config.Config) (daemonConfig, error) {
	dc := daemonConfig{
		DeviceID:       c.Device.ID,
		DataDir:        c.Storage.DataDir,
		RingSize:       int64(c.Storage.RingSize),
		FlushInterval:  c.Storage.FlushInterval.D(),
		RetentionFloor: c.Retention().WithDefaults().Floor,
		Listen:         c.LAN.Listen,

		GrantMaxValidity: c.Policy.GrantMaxValidity.D(),
		StaleAfter:       time.Duration(c.Policy.StaleAccountDays) * 24 * time.Hour,
		Uplink:           c.Uplink,
	}
	for i, a := range c.LAN.Allowlist {
		p, err := parsePrefix(a)
		if err != nil {
			return dc, fmt.Errorf("lan.allowlist[%d]: %w", i, err)
		}
		dc.Allowlist = append(dc.Allowlist, p)
	}
	for _, cam := range c.Cameras {
		cs := cameraSpec{
			ID: cam.ID, Name: cam.Name, Source: string(cam.Source), Masks: cam.MaskList(),
			BitrateKbps: cam.BitrateKbps, KeyframeInterval: cam.KeyframeInterval.D(),
			Retention: c.CameraRetention(cam),
		}
		// A prohibited zone (R1) or a missing signage attestation (R3)
		// refuses this camera only; the others record.
		if err := c.Refusal(cam); err != nil {
			cs.Refused = err.Error()
		}
		dc.Cameras = append(dc.Cameras, cs)
	}
	return dc, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
