package web

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/edgerec/edgerec/edge/config"
)

// FuzzParseSettings: the Settings page's parser never panics; what it
// accepts keeps its promises: a broker is mqtts:// with a host and no
// credentials, allowlist prefixes are valid and masked, NTP servers are
// host names or addresses without spaces, a retention duration is not
// negative, and a refusal of a value names a field.
func FuzzParseSettings(f *testing.F) {
	for _, s := range []struct{ section, body string }{
		{"uplink", `{"broker":"mqtts://broker.example:8883","topic_prefix":"edgerec"}`},
		{"uplink", `{"broker":"ssl://10.0.0.1:8883","ca_pem":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"}`},
		{"uplink", `{"broker":"mqtt://x","cert_pem":"x"}`},
		{"allowlist", `{"allowlist":["10.0.0.0/8","192.168.1.5","::1"]}`},
		{"allowlist", `{"allowlist":["::ffff:10.0.0.0/104"]}`},
		{"ntp", `{"servers":["pool.ntp.org","192.0.2.1"]}`},
		{"ntp", `{"servers":["1.2.3"]}`},
		{"gpio", `{"status_led":"GPIO17","tamper":"","wipe_button":"GPIO27"}`},
		{"retention", `{"camera":"cam1","retention":"45d"}`},
		{"retention", `{"camera":"../x","retention":"-1d"}`},
		{"nope", `{}`},
	} {
		f.Add(s.section, "application/json", []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, section, ct string, body []byte) {
		v, err := parseSettings(section, ct, body)
		if err != nil {
			if fe, ok := err.(*fieldError); ok && fe.Field == "" {
				t.Fatalf("refusal without a field: %v", fe)
			}
			return
		}
		switch c := v.(type) {
		case *uplinkChange:
			if !strings.HasPrefix(c.broker, "mqtts://") || strings.Contains(c.broker, "@") {
				t.Fatalf("broker %q accepted", c.broker)
			}
			if (c.cert == nil) != (c.key == nil) || (c.cert != nil && c.leaf == nil) || (c.ca != nil && len(c.caCerts) == 0) {
				t.Fatal("unchecked TLS material accepted")
			}
		case *allowlistChange:
			if len(c.entries) != len(c.prefixes) || len(c.prefixes) > maxAllowlist {
				t.Fatalf("allowlist %v", c.entries)
			}
			for _, p := range c.prefixes {
				if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() && p.Bits() >= 96 {
					t.Fatalf("prefix %v", p)
				}
			}
		case []string:
			if len(c) > maxNTPServers {
				t.Fatal("too many servers")
			}
			for _, s := range c {
				if s == "" || strings.ContainsAny(s, " \t\r\n#%") {
					t.Fatalf("server %q", s)
				}
				if a, err := netip.ParseAddr(s); err == nil && a.Zone() != "" {
					t.Fatalf("server with zone %q", s)
				}
			}
		case config.GPIO:
		case retentionChange:
			if c.retention < 0 || !validID(c.camera) {
				t.Fatalf("retention %+v", c)
			}
		default:
			t.Fatalf("section %q accepted as %T", section, v)
		}
	})
}
