package config

import (
	"strings"
	"testing"
	"time"
)

func TestONVIFConfig(t *testing.T) {
	c, err := Parse([]byte(base+"onvif: {interface: eth1, discovery_wait: 2s}\n"), "edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.ONVIF.Interface != "eth1" || c.ONVIF.DiscoveryWait.D() != 2*time.Second || c.ONVIF.Disabled {
		t.Fatalf("%+v", c.ONVIF)
	}
	for _, tc := range []struct{ add, want string }{
		{"onvif: {interface: \"eth1; reboot\"}\n", `edgerec.yaml: line 35: onvif.interface: "eth1; reboot" is not an interface name`},
		{"onvif: {discovery_wait: 1m}\n", `edgerec.yaml: line 35: onvif.discovery_wait: 1m0s outside 500ms..10s`},
		{"onvif: {discovery_wait: 100ms}\n", `onvif.discovery_wait: 100ms outside 500ms..10s`},
		{"onvif: {interfaces: eth1}\n", `edgerec.yaml: line 35: onvif: unknown key "interfaces"`},
	} {
		_, err := Parse([]byte(base+tc.add), "edgerec.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.add, err, tc.want)
		}
	}
}
