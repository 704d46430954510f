package web

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/edgerec/edgerec/edge/config"
)

// The Settings page's requests (issue 18), one body per section. They are
// decoded strictly (parseJSONBody: unknown fields refused) and checked by
// parseSettings, a pure function fuzzed by FuzzParseSettings; what depends
// on the device (bounds, cameras, the whole config) is checked by the
// handlers and by config.Validate.

// uplinkSettings is the body of PUT /api/v1/settings/uplink. PEM fields
// left empty keep what the device has.
type uplinkSettings struct {
	Broker      string `json:"broker"`
	TopicPrefix string `json:"topic_prefix,omitempty"`
	CAPEM       string `json:"ca_pem,omitempty"`
	CertPEM     string `json:"cert_pem,omitempty"`
	KeyPEM      string `json:"key_pem,omitempty"`
}

// allowlistSettings is the body of PUT /api/v1/settings/allowlist (empty:
// every address, R21).
type allowlistSettings struct {
	Allowlist []string `json:"allowlist"`
}

// ntpSettings is the body of PUT /api/v1/settings/ntp (empty: the pool).
type ntpSettings struct {
	Servers []string `json:"servers"`
}

// gpioSettings is the body of PUT /api/v1/settings/gpio ("" = not fitted).
type gpioSettings struct {
	StatusLED  string `json:"status_led"`
	Tamper     string `json:"tamper"`
	WipeButton string `json:"wipe_button"`
}

// retentionSettings is the body of PUT /api/v1/settings/retention: one
// camera's retention ("30d", "720h"; "0" or "" = the policy floor).
type retentionSettings struct {
	Camera    string `json:"camera"`
	Retention string `json:"retention"`
}

// Limits of the settings requests.
const (
	maxAllowlist  = 64
	maxNTPServers = 8
	// maxUplinkBody bounds the uplink request (CA bundle, certificate and
	// key as PEM).
	maxUplinkBody = 256 << 10
)

// fieldError is a refused setting: the field (as the config file or the
// request names it) and why. The API answers 400 {"error", "field"}.
type fieldError struct {
	Field, Msg string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *fieldError {
	return &fieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// uplinkChange is a checked uplink request.
type uplinkChange struct {
	broker, topic string
	// ca, cert, key are the uploaded PEM (nil: keep); caCerts and leaf
	// are their parsed certificates, for the answer and the audit record.
	ca, cert, key []byte
	caCerts       []*x509.Certificate
	leaf          *x509.Certificate
}

// allowlistChange is a checked allowlist: the entries as written and the
// prefixes they mean.
type allowlistChange struct {
	entries  []string
	prefixes []netip.Prefix
}

// retentionChange is a checked retention request.
type retentionChange struct {
	camera    string
	retention config.Duration
}

// parseSettings decodes and checks the body of a settings section. It
// returns *uplinkChange, *allowlistChange, []string (NTP servers),
// config.GPIO or retentionChange; a bad value is a *fieldError, a body
// that does not decode the error of parseJSONBody.
func parseSettings(section, ctype string, body []byte) (any, error) {
	switch section {
	case "uplink":
		var req uplinkSettings
		if err := parseJSONBodyMax(ctype, body, &req, maxUplinkBody); err != nil {
			return nil, err
		}
		return checkUplink(req)
	case "allowlist":
		var req allowlistSettings
		if err := parseJSONBody(ctype, body, &req); err != nil {
			return nil, err
		}
		return checkAllowlist(req.Allowlist)
	case "ntp":
		var req ntpSettings
		if err := parseJSONBody(ctype, body, &req); err != nil {
			return nil, err
		}
		return checkNTP(req.Servers)
	case "gpio":
		var req gpioSettings
		if err := parseJSONBody(ctype, body, &req); err != nil {
			return nil, err
		}
		g := config.GPIO{StatusLED: strings.TrimSpace(req.StatusLED), Tamper: strings.TrimSpace(req.Tamper), WipeButton: strings.TrimSpace(req.WipeButton)}
		for _, f := range []struct{ name, v string }{{"gpio.status_led", g.StatusLED}, {"gpio.tamper", g.Tamper}, {"gpio.wipe_button", g.WipeButton}} {
			if len(f.v) > 16 {
				return nil, fieldErr(f.name, "too long for a pin name like GPIO17")
			}
		}
		return g, nil // the pin names are the config validator's (one rule)
	case "retention":
		var req retentionSettings
		if err := parseJSONBody(ctype, body, &req); err != nil {
			return nil, err
		}
		if !validID(req.Camera) {
			return nil, fieldErr("camera", "not a camera id")
		}
		v := strings.TrimSpace(req.Retention)
		if v == "" {
			v = "0"
		}
		d, err := config.ParseDuration(v)
		if err != nil {
			return nil, fieldErr("cameras."+req.Camera+".retention", "%q is not a duration like 30d or 720h", clip(req.Retention, 40))
		}
		return retentionChange{camera: req.Camera, retention: d}, nil
	}
	return nil, fieldErr("section", "unknown settings section %q", clip(section, 40))
}

// checkUplink checks an uplink request: TLS everywhere (mqtts://, or its
// alias ssl://, which is written as mqtts://), no credentials in the URL,
// a CA that parses, a certificate that pairs with its key.
func checkUplink(req uplinkSettings) (*uplinkChange, error) {
	c := &uplinkChange{topic: strings.TrimSpace(req.TopicPrefix)}
	b := strings.TrimSpace(req.Broker)
	if b == "" {
		return nil, fieldErr("uplink.broker", "missing (mqtts://host:8883)")
	}
	u, err := url.Parse(b)
	if err != nil {
		return nil, fieldErr("uplink.broker", "not a valid URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "mqtts", "ssl":
		u.Scheme = "mqtts"
	default:
		return nil, fieldErr("uplink.broker", "scheme %q refused: the uplink uses TLS only (mqtts:// or ssl://, R20)", clip(u.Scheme, 20))
	}
	if u.User != nil {
		return nil, fieldErr("uplink.broker", "no user or password in the URL (the device authenticates with its client certificate)")
	}
	if u.Hostname() == "" || u.Opaque != "" {
		return nil, fieldErr("uplink.broker", "no host (mqtts://host:8883)")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fieldErr("uplink.broker", "only mqtts://host:port (no path, query or fragment)")
	}
	u.Path = ""
	c.broker = u.String()
	if strings.TrimSpace(req.CAPEM) != "" {
		c.ca = []byte(req.CAPEM)
		if c.caCerts, err = parseCertsPEM(c.ca); err != nil {
			return nil, fieldErr("uplink.ca_pem", "%s", err.Error())
		}
	}
	hasCert, hasKey := strings.TrimSpace(req.CertPEM) != "", strings.TrimSpace(req.KeyPEM) != ""
	switch {
	case hasCert != hasKey:
		return nil, fieldErr("uplink.cert_pem", "the client certificate and its key go together: upload both")
	case hasCert:
		c.cert, c.key = []byte(req.CertPEM), []byte(req.KeyPEM)
		pair, err := tls.X509KeyPair(c.cert, c.key)
		if err != nil {
			// The message of crypto/tls names the problem (mismatch, no
			// PEM block), never key material.
			return nil, fieldErr("uplink.key_pem", "the certificate and the key do not pair: %s", clip(err.Error(), 200))
		}
		if c.leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fieldErr("uplink.cert_pem", "the certificate does not parse")
		}
	}
	return c, nil
}

// parseCertsPEM parses one or more PEM CERTIFICATE blocks and nothing else.
func parseCertsPEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a %q PEM block where only certificates may be", clip(blk.Type, 30))
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse", len(out)+1)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("data after the last certificate")
	}
	return out, nil
}

// checkAllowlist checks LAN allowlist entries (a CIDR or one address each;
// the config's own rule is applied again when the config validates).
func checkAllowlist(in []string) (*allowlistChange, error) {
	if len(in) > maxAllowlist {
		return nil, fieldErr("lan.allowlist", "%d entries; at most %d", len(in), maxAllowlist)
	}
	c := &allowlistChange{}
	seen := map[netip.Prefix]bool{}
	for i, e := range in {
		e = strings.TrimSpace(e)
		field := fmt.Sprintf("lan.allowlist[%d]", i)
		p, err := parseAllowEntry(e)
		if err != nil {
			return nil, fieldErr(field, "%q is not an IP address or CIDR", clip(e, 60))
		}
		if seen[p] {
			return nil, fieldErr(field, "%s is listed twice", e)
		}
		seen[p] = true
		c.entries = append(c.entries, e)
		c.prefixes = append(c.prefixes, p)
	}
	return c, nil
}

// parseAllowEntry parses one allowlist entry as the config does: a CIDR
// or one address (a prefix of its full length), normalized like New.
func parseAllowEntry(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, err
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, err
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zone in address")
	}
	n, err := normalizePrefixes([]netip.Prefix{p})
	if err != nil {
		return netip.Prefix{}, err
	}
	return n[0], nil
}

// checkNTP checks NTP servers: host names (RFC 1123) or IP addresses, no
// duplicates, at most maxNTPServers.
func checkNTP(in []string) ([]string, error) {
	if len(in) > maxNTPServers {
		return nil, fieldErr("ntp.servers", "%d servers; at most %d", len(in), maxNTPServers)
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, s := range in {
		s = strings.ToLower(strings.TrimSpace(s))
		field := fmt.Sprintf("ntp.servers[%d]", i)
		if !validHost(s) {
			return nil, fieldErr(field, "%q is not a host name or IP address", clip(s, 60))
		}
		if seen[s] {
			return nil, fieldErr(field, "%s is listed twice", s)
		}
		seen[s] = true
		out = append(out, s)
	}
	return out, nil
}

// validHost reports whether s is an IP address (no zone) or a host name of
// letters, digits and hyphens in labels of 1..63 characters.
func validHost(s string) bool {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Zone() == ""
	}
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(s, "."), ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	// A name of digits and dots only would be a malformed address.
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

// pemSum is the SHA-256 of a certificate (DER) as hex, for the page and
// the audit record (never the PEM itself).
func pemSum(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}
