package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/edgerec/edgerec/edge/onvif"
	"github.com/edgerec/edgerec/edge/onvif/onviftest"
	"github.com/edgerec/edgerec/edge/web"
)

// onvifFinder builds the LAN page's ONVIF discovery and set-up from the
// config's onvif section (issue 18). In the demo it also starts the
// loopback ONVIF test device (edge/onvif/onviftest: user admin, password
// secret-pass, see README) and points discovery at its unicast address,
// so that "Find cameras on the LAN" finds one camera without any network.
// stop ends the test device.
func onvifFinder(dc daemonConfig, synced func() bool, log *slog.Logger) (finder web.CameraFinder, stop func(), err error) {
	stop = func() {}
	if dc.Config != nil && dc.Config.ONVIF.Disabled {
		return nil, stop, nil
	}
	f := &onvif.Finder{Discoverer: onvif.Discoverer{Logger: log}, ClockSynced: synced}
	if dc.Config != nil {
		f.Discoverer.Interface = dc.Config.ONVIF.Interface
		f.Discoverer.Wait = dc.Config.ONVIF.DiscoveryWait.D()
	}
	if !dc.Demo {
		return f, stop, nil
	}
	cfg := onviftest.DefaultConfig()
	cfg.Name = "Demo ONVIF camera"
	for i := range cfg.Profiles {
		cfg.Profiles[i].URI = "rtsp://127.0.0.1:8554/demo/" + []string{"main", "sub"}[min(i, 1)]
	}
	dev, err := onviftest.Start(cfg)
	if err != nil {
		return nil, stop, fmt.Errorf("demo ONVIF camera: %w", err)
	}
	f.Discoverer.Target = dev.DiscoveryAddr()
	f.Options = append(f.Options, onvif.WithLoopback()) // the demo camera is on loopback
	f.Discoverer.Wait = 500 * time.Millisecond          // one loopback answer
	log.Info("demo: ONVIF test camera on loopback (Find cameras on the cameras page)", "xaddr", dev.XAddr(), "discovery", dev.DiscoveryAddr())
	return f, dev.Close, nil
}
