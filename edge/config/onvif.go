package config

import (
	"regexp"
	"time"
)

// ONVIF configures camera discovery for the LAN page's "add camera"
// (issue 18, edge/onvif). The zero value probes on the default route and
// collects answers for 3 s.
type ONVIF struct {
	// Disabled turns discovery and set-up off (the routes answer 503).
	Disabled bool `yaml:"disabled,omitempty"`
	// Interface is the camera LAN interface the multicast probe leaves by
	// (e.g. eth1 on a gateway whose eth0 is the uplink); "" = the routing
	// table's choice.
	Interface string `yaml:"interface,omitempty"`
	// DiscoveryWait is how long answers are collected (500ms..10s; 0 = 3s).
	DiscoveryWait Duration `yaml:"discovery_wait,omitempty"`
}

var ifaceName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,15}$`)

func (c *Config) validateONVIF() *fieldError {
	o := c.ONVIF
	switch {
	case o.Interface != "" && !ifaceName.MatchString(o.Interface):
		return ferr("onvif.interface", "%q is not an interface name (1 to 15 of A-Z, a-z, 0-9, ., _, -)", o.Interface)
	case o.DiscoveryWait != 0 && (o.DiscoveryWait < Duration(500*time.Millisecond) || o.DiscoveryWait > Duration(10*time.Second)):
		return ferr("onvif.discovery_wait", "%s outside 500ms..10s", o.DiscoveryWait)
	}
	return nil
}
