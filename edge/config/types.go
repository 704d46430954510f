package config

import (
	"fmt"
	"github.com/edgerec/edgerec/edge/redact"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/policy/rules"
)

// Config is the whole edgerec.yaml (README design §5).
type Config struct {
	Device  Device   `yaml:"device"`
	Storage Storage  `yaml:"storage"`
	Policy  Policy   `yaml:"policy"`
	Cameras []Camera `yaml:"cameras"`
	LAN     LAN      `yaml:"lan"`
	Uplink  *Uplink  `yaml:"uplink,omitempty"` // nil: no uplink
	GPIO    GPIO     `yaml:"gpio,omitempty"`
	ONVIF   ONVIF    `yaml:"onvif,omitempty"` // camera discovery (issue 18)
}

// Device identifies the gateway and its site.
type Device struct {
	ID     string `yaml:"id"`
	Site   string `yaml:"site,omitempty"`
	School bool   `yaml:"school,omitempty"` // R1: classrooms are not recorded at schools
	Filing string `yaml:"filing,omitempty"` // R4: registration/filing number
	// Timezone is the site's IANA time zone (e.g. "Asia/Shanghai",
	// "Europe/Berlin"; issue 18): the LAN page, the burned-in labels of
	// playback and exports, the review report and the CLI show local time
	// with its offset. Storage, manifests and the uplink stay UTC. "" = UTC.
	Timezone string `yaml:"timezone,omitempty"`
}

// Storage is where and how much the recorder writes.
type Storage struct {
	DataDir       string   `yaml:"data_dir"`
	RingPath      string   `yaml:"ring_path,omitempty"` // "" = DataDir/ring
	RingSize      Size     `yaml:"ring_size"`
	FlushInterval Duration `yaml:"flush_interval,omitempty"`
	// KeyProvider is where the root key lives (issue 13): "tpm2", "rpi-otp"
	// or "file" (demo and development only). It is chosen at provisioning
	// and recorded in the ring header; at run time a value here that differs
	// from the header is refused. "" = whatever the header says.
	KeyProvider string `yaml:"key_provider,omitempty"`
	// TPM is how to reach the TPM: a device path (default /dev/tpmrm0), or
	// "unix:PATH" / "tcp:127.0.0.1:PORT" for a TPM simulator (swtpm).
	TPM string `yaml:"tpm,omitempty"`
	// TPMPCRs binds the TPM-sealed root key to these SHA-256 PCRs at
	// provisioning (optional; see hal/tpm).
	TPMPCRs []int `yaml:"tpm_pcrs,omitempty"`
	// OTPDevice is the firmware mailbox for rpi-otp (default /dev/vcio).
	OTPDevice string `yaml:"otp_device,omitempty"`
}

// Policy holds the site's placement, retention and access rules.
type Policy struct {
	RetentionFloor   Duration         `yaml:"retention_floor,omitempty"`    // default 30d (R6)
	RetentionCeiling Duration         `yaml:"retention_ceiling,omitempty"`  // default 90d (R6)
	ProhibitedZones  []rules.ZoneType `yaml:"prohibited_zones,omitempty"`   // in addition to the built-in ones (R1)
	GrantMaxValidity Duration         `yaml:"grant_max_validity,omitempty"` // default 72h (R12)
	StaleAccountDays int              `yaml:"stale_account_days,omitempty"` // default 90 (R14)
}

// Camera is one camera.
type Camera struct {
	ID         string `yaml:"id"`
	Name       string `yaml:"name,omitempty"`
	Source     URL    `yaml:"source"`
	Credential string `yaml:"credential,omitempty"` // vault reference of the source's password (CredentialRef, issue 13)
	// SubSource is the camera's second, smaller stream (issue 18), if it
	// has one: live view, snapshots and the mask editor's background use
	// it; recording always uses Source. The same masks apply (a masked
	// camera's sub stream is decoded, masked and re-encoded too, never
	// passed through). Same scheme rules as Source; the camera's
	// credential applies to it, so it may not carry a password itself.
	SubSource        URL            `yaml:"sub_source,omitempty"`
	Zone             rules.ZoneType `yaml:"zone"`
	Signage          Signage        `yaml:"signage,omitempty"`
	Retention        Duration       `yaml:"retention,omitempty"` // 0 = policy floor (R6)
	BitrateKbps      int            `yaml:"bitrate_kbps,omitempty"`
	KeyframeInterval Duration       `yaml:"keyframe_interval,omitempty"`
	Masks            []Mask         `yaml:"masks,omitempty"`
	// Schedule is when the camera records (issue 18): empty = always,
	// otherwise weekly windows in the site's time zone (device.timezone).
	// Outside them nothing is recorded and the timeline says "scheduled
	// off". Windows may not overlap.
	Schedule []ScheduleWindow `yaml:"schedule,omitempty"`
}

// ScheduleWindow is one weekly recording window: days (mon … sun) and a
// local clock range "HH:MM"–"HH:MM" (to may be 24:00; a to at or before
// from ends the next day).
type ScheduleWindow struct {
	Days []string `yaml:"days,flow"`
	From string   `yaml:"from"`
	To   string   `yaml:"to"`
}

// Signage is the installer's attestation that signage is posted (R3).
type Signage struct {
	AttestedBy string `yaml:"attested_by,omitempty"`
	Date       Date   `yaml:"date,omitempty"`
}

// Complete reports whether both the attester and the date are set.
func (s Signage) Complete() bool { return strings.TrimSpace(s.AttestedBy) != "" && !s.Date.IsZero() }

// Mask is one privacy mask as written in the file (R2).
type Mask struct {
	Name    string      `yaml:"name"`
	Style   mask.Style  `yaml:"style,omitempty"`
	Polygon [][]float64 `yaml:"polygon,flow"` // [[x, y], …], normalized
}

// Mask converts to a mask.Mask (points that are not [x, y] pairs become NaN,
// which mask.Validate refuses).
func (m Mask) Mask() mask.Mask {
	p := make([]mask.Point, len(m.Polygon))
	for i, q := range m.Polygon {
		if len(q) != 2 {
			p[i] = mask.Point{X: math.NaN(), Y: math.NaN()}
			continue
		}
		p[i] = mask.Point{X: q[0], Y: q[1]}
	}
	return mask.Mask{Name: m.Name, Style: m.Style, Polygon: p}
}

// MaskSet returns the camera's masks validated (mask.NewSet): the config's
// one mask validation, which Validate runs; the camera manager passes the
// Set on to the pipeline.
func (c Camera) MaskSet() (mask.Set, error) { return mask.NewSet(c.MaskList()) }

// MaskList returns the camera's masks as mask.Mask values, for mask.New.
func (c Camera) MaskList() []mask.Mask {
	out := make([]mask.Mask, len(c.Masks))
	for i, m := range c.Masks {
		out[i] = m.Mask()
	}
	return out
}

// LAN is the technician web page.
type LAN struct {
	Listen    string   `yaml:"listen"`
	Allowlist []string `yaml:"allowlist,omitempty"` // CIDRs or IPs; empty = any address (R21)
	// LiveMaxPerUser bounds one user's concurrent live views (R18; the
	// device-wide limit is 8). Default 2, 1..8.
	LiveMaxPerUser int `yaml:"live_max_per_user,omitempty"`
	// LiveMaxDuration closes a live view after this long (R18). Default
	// 30m, 1m..4h.
	LiveMaxDuration Duration `yaml:"live_max_duration,omitempty"`
}

// Uplink is the metadata-only MQTT uplink (D6).
type Uplink struct {
	Broker         URL      `yaml:"broker"`
	AllowPlaintext bool     `yaml:"allow_plaintext,omitempty"`
	TopicPrefix    string   `yaml:"topic_prefix,omitempty"`
	CA             string   `yaml:"ca,omitempty"`
	Cert           string   `yaml:"cert,omitempty"`
	Key            string   `yaml:"key,omitempty"`
	Username       string   `yaml:"username,omitempty"`
	Password       Secret   `yaml:"password,omitempty"`
	BeaconInterval Duration `yaml:"beacon_interval,omitempty"`
}

// GPIO names the board pins (periph.io names such as "GPIO17"); empty = not
// fitted.
type GPIO struct {
	StatusLED  string `yaml:"status_led,omitempty"`
	Tamper     string `yaml:"tamper,omitempty"`
	WipeButton string `yaml:"wipe_button,omitempty"`
}

// ---------------------------------------------------------------------------
// Scalar types. They decode through UnmarshalYAML(ast.Node) so that a bad
// value reports its own line.

// valueError is a bad scalar value at a token.
type valueError struct {
	tok *token.Token
	msg string
}

func (e *valueError) Error() string { return e.msg }

func scalar(n ast.Node) (string, bool) {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.LiteralNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// Size is a byte count written as plain bytes or with a binary (KiB, MiB,
// GiB, TiB) or decimal (KB, MB, GB, TB) unit, e.g. 256MiB, 64GiB.
type Size int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
}

// ParseSize parses a Size.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q (want bytes or a number with KiB, MiB, GiB, TiB)", s)
	}
	return Size(n * mult), nil
}

// String formats with the largest binary unit that divides the size.
func (s Size) String() string {
	for _, u := range sizeUnits[:4] {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (s *Size) UnmarshalYAML(n ast.Node) error {
	if n.Type() == ast.NullType {
		*s = 0
		return nil
	}
	v, ok := scalar(n)
	if !ok {
		return &valueError{n.GetToken(), "want a size like 256MiB"}
	}
	p, err := ParseSize(v)
	if err != nil {
		return &valueError{n.GetToken(), err.Error()}
	}
	*s = p
	return nil
}

// MarshalYAML implements yaml.InterfaceMarshaler.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// Duration is a time.Duration written as a Go duration (90s, 1h30m) or a
// whole number of days (30d). A bare 0 is accepted.
type Duration time.Duration

// ParseDuration parses a Duration.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if t == "0" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(t, "d"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err == nil && n >= 0 && n <= math.MaxInt64/int64(rules.Day) {
			return Duration(time.Duration(n) * rules.Day), nil
		}
	} else if d, err := time.ParseDuration(t); err == nil {
		return Duration(d), nil
	}
	return 0, fmt.Errorf("invalid duration %q (want e.g. 30d, 72h, 1s)", s)
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats whole days as Nd, anything else as a Go duration.
func (d Duration) String() string {
	if d != 0 && time.Duration(d)%rules.Day == 0 {
		return strconv.FormatInt(int64(time.Duration(d)/rules.Day), 10) + "d"
	}
	return time.Duration(d).String()
}

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (d *Duration) UnmarshalYAML(n ast.Node) error {
	if n.Type() == ast.NullType {
		*d = 0
		return nil
	}
	v, ok := scalar(n)
	if !ok {
		return &valueError{n.GetToken(), "want a duration like 30d or 1s"}
	}
	p, err := ParseDuration(v)
	if err != nil {
		return &valueError{n.GetToken(), err.Error()}
	}
	*d = p
	return nil
}

// MarshalYAML implements yaml.InterfaceMarshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Date is a calendar date written YYYY-MM-DD.
type Date struct{ time.Time }

const dateLayout = "2006-01-02"

// UnmarshalYAML implements yaml.NodeUnmarshaler.
func (d *Date) UnmarshalYAML(n ast.Node) error {
	if n.Type() == ast.NullType {
		*d = Date{}
		return nil
	}
	v, ok := scalar(n)
	if !ok {
		return &valueError{n.GetToken(), "want a date like 2026-11-27"}
	}
	t, err := time.Parse(dateLayout, strings.TrimSpace(v))
	if err != nil {
		return &valueError{n.GetToken(), fmt.Sprintf("invalid date %q (want YYYY-MM-DD)", v)}
	}
	d.Time = t
	return nil
}

// MarshalYAML implements yaml.InterfaceMarshaler.
func (d Date) MarshalYAML() (any, error) {
	if d.IsZero() {
		return "", nil
	}
	return d.Format(dateLayout), nil
}

// String formats the date as YYYY-MM-DD ("" when unset).
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format(dateLayout)
}

// URL is a URL that may carry credentials (rtsp://user:pass@…). String and
// GoString redact them, so a URL printed by mistake leaks nothing; use
// string(u) where the real value is needed.
type URL string

// String returns the URL with its userinfo and secret query values
// replaced by REDACTED.
func (u URL) String() string { return RedactURL(string(u)) }

// GoString is like String.
func (u URL) GoString() string { return strconv.Quote(u.String()) }

// Secret is a password. String and GoString never show it; use string(s)
// where the real value is needed.
type Secret string

// String returns "REDACTED" (or "" when empty).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// GoString is like String.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// RedactURL is redact.URL: the userinfo (user and password) and
// secret-looking query values of a URL replaced.
func RedactURL(s string) string { return redact.URL(s) }
