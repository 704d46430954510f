package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	// The zone database is embedded (about 450 kB) so that device.timezone
	// means the same on a gateway whose read-only image has no
	// /usr/share/zoneinfo as on a development machine (issue 18).
	_ "time/tzdata"

	"github.com/goccy/go-yaml"

	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/schedule"
	"github.com/edgerec/edgerec/policy/kind"
	"github.com/edgerec/edgerec/policy/rules"
)

// Defaults applied to fields left empty.
const (
	DefaultFlushInterval    = Duration(time.Second)
	DefaultGrantMaxValidity = Duration(72 * time.Hour)
	DefaultStaleAccountDays = 90
	DefaultBitrateKbps      = 1500
	DefaultKeyframeInterval = Duration(2 * time.Second)
	DefaultBeaconInterval   = Duration(60 * time.Second)
	DefaultTopicPrefix      = "edgerec"
	DefaultListen           = "127.0.0.1:8443"
	DefaultLiveMaxPerUser   = 2
	DefaultLiveMaxDuration  = Duration(30 * time.Minute)
	// MaxLiveViewers is the device-wide live view limit (edge/live).
	MaxLiveViewers = 8
	MinRingSize    = Size(16 << 20)
)

func (c *Config) applyDefaults() {
	// Empty and missing lists are the same thing.
	if len(c.Policy.ProhibitedZones) == 0 {
		c.Policy.ProhibitedZones = nil
	}
	if len(c.LAN.Allowlist) == 0 {
		c.LAN.Allowlist = nil
	}
	if len(c.Cameras) == 0 {
		c.Cameras = nil
	}
	if c.Storage.FlushInterval == 0 {
		c.Storage.FlushInterval = DefaultFlushInterval
	}
	if c.Policy.RetentionFloor == 0 {
		c.Policy.RetentionFloor = Duration(rules.DefaultFloor)
	}
	if c.Policy.RetentionCeiling == 0 {
		c.Policy.RetentionCeiling = Duration(rules.DefaultCeiling)
	}
	if c.Policy.GrantMaxValidity == 0 {
		c.Policy.GrantMaxValidity = DefaultGrantMaxValidity
	}
	if c.Policy.StaleAccountDays == 0 {
		c.Policy.StaleAccountDays = DefaultStaleAccountDays
	}
	for i := range c.Cameras {
		c.Cameras[i] = c.Cameras[i].Normalized()
	}
	if c.LAN.Listen == "" {
		c.LAN.Listen = DefaultListen
	}
	if c.LAN.LiveMaxPerUser == 0 {
		c.LAN.LiveMaxPerUser = DefaultLiveMaxPerUser
	}
	if c.LAN.LiveMaxDuration == 0 {
		c.LAN.LiveMaxDuration = DefaultLiveMaxDuration
	}
	if u := c.Uplink; u != nil {
		if u.TopicPrefix == "" {
			u.TopicPrefix = DefaultTopicPrefix
		}
		if u.BeaconInterval == 0 {
			u.BeaconInterval = DefaultBeaconInterval
		}
	}
}

// Normalized returns cam with the defaults a loaded config has (name,
// bitrate, keyframe interval, mask style fill, no empty mask list), so two
// descriptions of the same camera compare equal. The masks are copied.
func (cam Camera) Normalized() Camera {
	if cam.Name == "" {
		cam.Name = cam.ID
	}
	if cam.BitrateKbps == 0 {
		cam.BitrateKbps = DefaultBitrateKbps
	}
	if cam.KeyframeInterval == 0 {
		cam.KeyframeInterval = DefaultKeyframeInterval
	}
	if len(cam.Masks) == 0 {
		cam.Masks = nil
	} else {
		cam.Masks = append([]Mask(nil), cam.Masks...)
	}
	for j := range cam.Masks {
		if cam.Masks[j].Style == "" {
			cam.Masks[j].Style = mask.StyleFill
		}
	}
	return cam
}

// RingPath returns the ring file: Storage.RingPath, or DataDir/ring.
func (c *Config) RingPath() string {
	if c.Storage.RingPath != "" {
		return c.Storage.RingPath
	}
	return filepath.Join(c.Storage.DataDir, "ring")
}

// Site is what the zone rules need to know about this site (R1).
func (c *Config) Site() rules.Site {
	return rules.Site{School: c.Device.School, ExtraProhibited: c.Policy.ProhibitedZones}
}

// Retention is the policy's retention bounds (R6).
func (c *Config) Retention() rules.Retention {
	return rules.Retention{Floor: c.Policy.RetentionFloor.D(), Ceiling: c.Policy.RetentionCeiling.D()}
}

// CameraRetention is the retention that applies to cam (its own, or the
// policy floor when unset).
func (c *Config) CameraRetention(cam Camera) time.Duration {
	d, err := c.Retention().Clamp(cam.Retention.D())
	if err != nil { // cannot happen for a validated config
		return c.Retention().WithDefaults().Floor
	}
	return d
}

// ErrRefused is wrapped by Refusal's errors.
var ErrRefused = kind.New(kind.Refused, "camera refused")

// ErrNoSignage is wrapped by Refusal for a camera without a signage
// attestation (R3).
var ErrNoSignage = kind.New(kind.Refused, "no signage attestation")

// Refusal returns why the recorder must not start cam, or nil. A config with
// such a camera still parses: the recorder refuses that camera, shows and
// audits the reason, and runs the others. Reasons: its zone is prohibited at
// this site (R1, wraps rules.ErrProhibitedZone) or the signage attestation
// is missing (R3).
func (c *Config) Refusal(cam Camera) error {
	if err := rules.CheckZone(cam.Zone, c.Site()); err != nil {
		return refusal{fmt.Errorf("camera %q refused: %w", cam.ID, err)}
	}
	if !cam.Signage.Complete() {
		return refusal{fmt.Errorf("camera %q refused: %w (attested_by and date) — commissioning is incomplete (R3)", cam.ID, ErrNoSignage)}
	}
	return nil
}

// refusal is a Refusal error: its text says the reason once ("camera "x"
// refused: …"), and it matches both the reason and ErrRefused with
// errors.Is (issue 18: the text used to end in ": camera refused" again).
type refusal struct{ err error }

func (r refusal) Error() string   { return r.err.Error() }
func (r refusal) Unwrap() []error { return []error{r.err, ErrRefused} }

// fieldError is a validation failure at a field path.
type fieldError struct {
	path, msg string
	err       error
}

func ferr(path, format string, args ...any) *fieldError {
	return &fieldError{path: path, msg: fmt.Sprintf(format, args...)}
}

// Validate checks the config (see the package documentation for the rules).
// Errors are *Error values without a file or line; Parse adds them.
func (c *Config) Validate() error {
	cc := *c
	cc.applyDefaultsCopy()
	if fe := cc.validate(); fe != nil {
		return &Error{Path: fe.path, Msg: scrub(fe.msg), Err: fe.err}
	}
	return nil
}

// applyDefaultsCopy applies defaults to a shallow copy without writing
// through to slices shared with the original.
func (c *Config) applyDefaultsCopy() {
	c.Cameras = append([]Camera(nil), c.Cameras...)
	for i := range c.Cameras {
		c.Cameras[i].Masks = append([]Mask(nil), c.Cameras[i].Masks...)
	}
	if c.Uplink != nil {
		u := *c.Uplink
		c.Uplink = &u
	}
	c.applyDefaults()
}

var safeID = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
var gpioName = regexp.MustCompile(`^GPIO[0-9]{1,3}$`)

func (c *Config) validate() *fieldError {
	for _, f := range []func() *fieldError{c.validateDevice, c.validateStorage, c.validatePolicy, c.validateCameras, c.validateLAN, c.validateUplink, c.validateGPIO, c.validateONVIF} {
		if fe := f(); fe != nil {
			return fe
		}
	}
	return nil
}

func (c *Config) validateDevice() *fieldError {
	switch {
	case c.Device.ID == "":
		return ferr("device.id", "missing (a short id such as gw-0001)")
	case !safeID.MatchString(c.Device.ID):
		return ferr("device.id", "%q: use 1 to 64 of a-z, 0-9, - and _", c.Device.ID)
	case c.Device.Timezone != "" && !validZone(c.Device.Timezone):
		return ferr("device.timezone", "%q is not an IANA time zone name (such as Europe/Berlin or Asia/Shanghai)", c.Device.Timezone)
	}
	return nil
}

func (c *Config) validateStorage() *fieldError {
	s := c.Storage
	switch {
	case s.DataDir == "":
		return ferr("storage.data_dir", "missing")
	case !filepath.IsAbs(s.DataDir):
		return ferr("storage.data_dir", "%q is not an absolute path", s.DataDir)
	case s.RingPath != "" && !filepath.IsAbs(s.RingPath):
		return ferr("storage.ring_path", "%q is not an absolute path", s.RingPath)
	case s.RingSize == 0:
		return ferr("storage.ring_size", "missing (e.g. 64GiB)")
	case s.RingSize < MinRingSize:
		return ferr("storage.ring_size", "%s is below the minimum of %s", s.RingSize, MinRingSize)
	case s.FlushInterval < Duration(100*time.Millisecond) || s.FlushInterval > Duration(time.Minute):
		return ferr("storage.flush_interval", "%s outside 100ms..1m", s.FlushInterval)
	case s.KeyProvider != "" && s.KeyProvider != "file" && s.KeyProvider != "tpm2" && s.KeyProvider != "rpi-otp":
		return ferr("storage.key_provider", "%q is not one of tpm2, rpi-otp, file", s.KeyProvider)
	case s.TPM != "" && !validTPM(s.TPM):
		return ferr("storage.tpm", "%q is not a device path, unix:PATH or tcp:127.0.0.1:PORT", s.TPM)
	case s.OTPDevice != "" && !filepath.IsAbs(s.OTPDevice):
		return ferr("storage.otp_device", "%q is not an absolute path", s.OTPDevice)
	}
	for _, p := range s.TPMPCRs {
		if p < 0 || p > 23 {
			return ferr("storage.tpm_pcrs", "PCR %d outside 0..23", p)
		}
	}
	return nil
}

// validTPM accepts an absolute device path, unix:PATH, or tcp:HOST:PORT on
// loopback (a simulator; a TPM is never reached over the network).
func validTPM(s string) bool {
	switch {
	case strings.HasPrefix(s, "unix:"):
		return filepath.IsAbs(strings.TrimPrefix(s, "unix:"))
	case strings.HasPrefix(s, "tcp:"):
		host, _, err := net.SplitHostPort(strings.TrimPrefix(s, "tcp:"))
		ip := net.ParseIP(host)
		return err == nil && ip != nil && ip.IsLoopback()
	}
	return filepath.IsAbs(s)
}

func (c *Config) validatePolicy() *fieldError {
	p := c.Policy
	if p.RetentionFloor < 0 {
		return ferr("policy.retention_floor", "%s must be positive", p.RetentionFloor)
	}
	if err := c.Retention().Validate(); err != nil {
		path := "policy.retention_ceiling"
		if strings.Contains(err.Error(), "floor") && !strings.Contains(err.Error(), "ceiling") {
			path = "policy.retention_floor"
		}
		return &fieldError{path: path, msg: err.Error(), err: err}
	}
	for i, z := range p.ProhibitedZones {
		if !rules.Known(z) {
			err := rules.CheckZone(z, rules.Site{})
			return &fieldError{path: fmt.Sprintf("policy.prohibited_zones[%d]", i), msg: err.Error(), err: err}
		}
	}
	if p.GrantMaxValidity < Duration(time.Minute) || p.GrantMaxValidity > Duration(30*rules.Day) {
		return ferr("policy.grant_max_validity", "%s outside 1m..30d", p.GrantMaxValidity)
	}
	if p.StaleAccountDays < 1 || p.StaleAccountDays > 3650 {
		return ferr("policy.stale_account_days", "%d outside 1..3650", p.StaleAccountDays)
	}
	return nil
}

// Source URL schemes a camera may use.
var sourceSchemes = map[string]bool{"test": true, "rtsp": true, "rtsps": true, "v4l2": true}

func (c *Config) validateCameras() *fieldError {
	seen := map[string]int{}
	for i, cam := range c.Cameras {
		p := fmt.Sprintf("cameras[%d]", i)
		switch {
		case cam.ID == "":
			return ferr(p+".id", "missing")
		case !safeID.MatchString(cam.ID):
			return ferr(p+".id", "%q: use 1 to 64 of a-z, 0-9, - and _", cam.ID)
		}
		if j, dup := seen[cam.ID]; dup {
			return ferr(p+".id", "%q is also the id of cameras[%d]", cam.ID, j)
		}
		seen[cam.ID] = i
		if fe := validateSource(p+".source", string(cam.Source)); fe != nil {
			return fe
		}
		if cam.SubSource != "" {
			if fe := validateSource(p+".sub_source", string(cam.SubSource)); fe != nil {
				return fe
			}
			if _, _, err := SplitPassword(cam.SubSource); err == nil {
				return ferr(p+".sub_source", "carries a password: the camera's credential applies to the sub stream too (leave only the user name)")
			}
		}
		if fe := validateCredential(p+".credential", &cam); fe != nil {
			return fe
		}
		if cam.Zone == "" {
			return ferr(p+".zone", "missing (e.g. entrance; R1)")
		}
		if !rules.Known(cam.Zone) {
			err := rules.CheckZone(cam.Zone, c.Site())
			return &fieldError{path: p + ".zone", msg: err.Error(), err: err}
		}
		if cam.Retention < 0 {
			return ferr(p+".retention", "%s must be positive", cam.Retention)
		}
		if _, err := c.Retention().Clamp(cam.Retention.D()); err != nil {
			return &fieldError{path: p + ".retention", msg: err.Error(), err: err}
		}
		if cam.BitrateKbps < 64 || cam.BitrateKbps > 50000 {
			return ferr(p+".bitrate_kbps", "%d outside 64..50000", cam.BitrateKbps)
		}
		if cam.KeyframeInterval < Duration(200*time.Millisecond) || cam.KeyframeInterval > Duration(10*time.Second) {
			return ferr(p+".keyframe_interval", "%s outside 200ms..10s", cam.KeyframeInterval)
		}
		names := map[string]int{}
		for j, m := range cam.Masks {
			mp := fmt.Sprintf("%s.masks[%d]", p, j)
			for k, pt := range m.Polygon {
				if len(pt) != 2 {
					return ferr(fmt.Sprintf("%s.polygon[%d]", mp, k), "mask %q: point %d: want [x, y], got %d numbers", m.Name, k+1, len(pt))
				}
			}
			if k, dup := names[m.Name]; dup && m.Name != "" {
				return ferr(mp+".name", "mask %q: name also used by masks[%d]", m.Name, k)
			}
			names[m.Name] = j
		}
		// The one validation of the file's masks (mask.NewSet); the
		// camera manager and the pipeline take the Set (MaskSet).
		if _, err := cam.MaskSet(); err != nil {
			mp := p + ".masks"
			var se *mask.SetError
			if errors.As(err, &se) {
				mp = fmt.Sprintf("%s.masks[%d]", p, se.Index)
			}
			return &fieldError{path: maskPath(mp, err), msg: err.Error(), err: err}
		}
		if _, fe := scheduleIn(p, cam, c.Location()); fe != nil {
			return fe
		}
	}
	return nil
}

// scheduleIn converts and checks a camera's recording windows in loc (p is
// the camera's field path).
func scheduleIn(p string, cam Camera, loc *time.Location) (*schedule.Schedule, *fieldError) {
	if len(cam.Schedule) == 0 {
		return nil, nil
	}
	ws := make([]schedule.Window, len(cam.Schedule))
	for j, w := range cam.Schedule {
		wp := fmt.Sprintf("%s.schedule[%d]", p, j)
		for k, d := range w.Days {
			day, err := schedule.ParseDay(d)
			if err != nil {
				return nil, &fieldError{path: fmt.Sprintf("%s.days[%d]", wp, k), msg: strings.TrimPrefix(err.Error(), schedule.ErrInvalid.Error()+": "), err: err}
			}
			ws[j].Days = append(ws[j].Days, day)
		}
		for _, f := range []struct {
			name, v string
			dst     *int
		}{{"from", w.From, &ws[j].From}, {"to", w.To, &ws[j].To}} {
			if f.v == "" {
				return nil, ferr(wp+"."+f.name, "missing (HH:MM, local time)")
			}
			m, err := schedule.ParseClock(f.v)
			if err != nil {
				return nil, &fieldError{path: wp + "." + f.name, msg: strings.TrimPrefix(err.Error(), schedule.ErrInvalid.Error()+": "), err: err}
			}
			*f.dst = m
		}
	}
	s, err := schedule.New(ws, loc)
	if err != nil {
		var se *schedule.Error
		if errors.As(err, &se) {
			msg := se.Msg
			if se.Overlaps >= 0 {
				msg = fmt.Sprintf("overlaps schedule[%d] on %s (local time)", se.Overlaps, se.At)
			}
			return nil, &fieldError{path: fmt.Sprintf("%s.schedule[%d]", p, se.Window), msg: msg, err: err}
		}
		return nil, &fieldError{path: p + ".schedule", msg: err.Error(), err: err}
	}
	return s, nil
}

// CameraSchedule is when cam records (nil = always). The config was
// validated, so the windows convert.
func (c *Config) CameraSchedule(cam Camera) *schedule.Schedule {
	s, _ := scheduleIn("", cam, c.Location())
	return s
}

// ScheduleOf is cam's recording schedule in loc (nil = always), or the
// first problem with it.
func ScheduleOf(cam Camera, loc *time.Location) (*schedule.Schedule, error) {
	s, fe := scheduleIn("schedule", cam, loc)
	if fe != nil {
		return nil, fmt.Errorf("%s: %s: %w", fe.path, fe.msg, ErrInvalid)
	}
	return s, nil
}

func maskPath(mp string, err error) string {
	var me *mask.Error
	if !errors.As(err, &me) {
		return mp
	}
	if me.Field == "polygon" && me.Point >= 0 {
		return fmt.Sprintf("%s.polygon[%d]", mp, me.Point)
	}
	return mp + "." + me.Field
}

// validateSource checks a camera source URL. Messages never include the
// URL itself (it may hold a password).
func validateSource(path, s string) *fieldError {
	if s == "" {
		return ferr(path, "missing (test://pattern?…, rtsp://…, v4l2:///dev/video0)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return ferr(path, "not a valid URL")
	}
	if u.Scheme == "" {
		return ferr(path, "no URL scheme (want test://, rtsp://, rtsps:// or v4l2://)")
	}
	if !sourceSchemes[u.Scheme] {
		return ferr(path, "unknown source scheme %q (want test, rtsp, rtsps, v4l2)", u.Scheme)
	}
	switch u.Scheme {
	case "rtsp", "rtsps":
		if u.Host == "" {
			return ferr(path, "%s URL has no host", u.Scheme)
		}
	case "v4l2":
		if !strings.HasPrefix(u.Path, "/dev/") {
			return ferr(path, "v4l2 URL must name a device, e.g. v4l2:///dev/video0")
		}
	case "test":
		if u.Host != "pattern" && u.Opaque != "pattern" {
			return ferr(path, "test source must be test://pattern?…")
		}
	}
	return nil
}

func (c *Config) validateLAN() *fieldError {
	host, port, err := net.SplitHostPort(c.LAN.Listen)
	if err != nil {
		return ferr("lan.listen", "%q is not host:port", c.LAN.Listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return ferr("lan.listen", "port %q is not 1..65535", port)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return ferr("lan.listen", "host %q is not an IP address (or empty for all)", host)
		}
	}
	for i, a := range c.LAN.Allowlist {
		if _, err := parseAllow(a); err != nil {
			return ferr(fmt.Sprintf("lan.allowlist[%d]", i), "%q is not an IP address or CIDR", a)
		}
	}
	if n := c.LAN.LiveMaxPerUser; n < 1 || n > MaxLiveViewers {
		return ferr("lan.live_max_per_user", "%d outside 1..%d (the device-wide live view limit)", n, MaxLiveViewers)
	}
	if d := c.LAN.LiveMaxDuration; d < Duration(time.Minute) || d > Duration(4*time.Hour) {
		return ferr("lan.live_max_duration", "%s outside 1m..4h", d)
	}
	return nil
}

// VaultPrefix starts a reference to a secret sealed in the device's vault
// (issue 13) where the config would otherwise name a file.
const VaultPrefix = "vault:"

// VaultUplinkKey is the vault name of the uplink client key: `provision
// --config` seals the key file's PEM under it and writes
// "uplink.key: vault:uplink/key" into the installed config.
const VaultUplinkKey = "uplink/key"

// VaultUplinkPassword is the vault name of the MQTT password (uplink.password:
// vault:uplink/password after provisioning).
const VaultUplinkPassword = "uplink/password"

var uplinkVaultName = regexp.MustCompile(`^uplink/[a-z0-9][a-z0-9._-]{0,63}$`)

// UplinkKeyRef returns the vault name that an uplink.key value refers to
// ("vault:uplink/key" → "uplink/key"); ok is false for a path or a
// malformed reference.
func UplinkKeyRef(v string) (name string, ok bool) {
	name, found := strings.CutPrefix(v, VaultPrefix)
	if !found || !uplinkVaultName.MatchString(name) || strings.Contains(name, "..") {
		return "", false
	}
	return name, true
}

func (c *Config) validateUplink() *fieldError {
	u := c.Uplink
	if u == nil {
		return nil
	}
	if u.Broker == "" {
		return ferr("uplink.broker", "missing (mqtts://host:8883)")
	}
	b, err := url.Parse(string(u.Broker))
	if err != nil {
		return ferr("uplink.broker", "not a valid URL")
	}
	switch b.Scheme {
	case "mqtts":
	case "mqtt":
		if !u.AllowPlaintext {
			return ferr("uplink.broker", "plain mqtt:// sends metadata unencrypted; use mqtts:// or set allow_plaintext: true (R20)")
		}
	default:
		return ferr("uplink.broker", "unknown broker scheme %q (want mqtts or mqtt)", b.Scheme)
	}
	if b.Hostname() == "" {
		return ferr("uplink.broker", "no host")
	}
	if u.TopicPrefix == "" || strings.ContainsAny(u.TopicPrefix, "+#") || strings.HasPrefix(u.TopicPrefix, "/") || strings.HasSuffix(u.TopicPrefix, "/") {
		return ferr("uplink.topic_prefix", "%q: no wildcards (+ #) and no leading or trailing /", u.TopicPrefix)
	}
	if (u.Cert == "") != (u.Key == "") {
		return ferr("uplink.cert", "cert and key go together")
	}
	if strings.HasPrefix(u.Key, VaultPrefix) {
		if _, ok := UplinkKeyRef(u.Key); !ok {
			return ferr("uplink.key", "%q is not a vault reference like %s (vault:uplink/NAME, NAME of a-z 0-9 . _ -)", u.Key, VaultPrefix+VaultUplinkKey)
		}
	}
	for _, f := range []struct{ path, v string }{{"uplink.ca", u.CA}, {"uplink.cert", u.Cert}, {"uplink.key", u.Key}} {
		if f.path == "uplink.key" && strings.HasPrefix(f.v, VaultPrefix) {
			continue
		}
		if f.v != "" && !filepath.IsAbs(f.v) {
			return ferr(f.path, "%q is not an absolute path", f.v)
		}
	}
	if u.BeaconInterval < Duration(5*time.Second) || u.BeaconInterval > Duration(time.Hour) {
		return ferr("uplink.beacon_interval", "%s outside 5s..1h", u.BeaconInterval)
	}
	return nil
}

func (c *Config) validateGPIO() *fieldError {
	used := map[string]string{}
	for _, p := range []struct{ path, v string }{{"gpio.status_led", c.GPIO.StatusLED}, {"gpio.tamper", c.GPIO.Tamper}, {"gpio.wipe_button", c.GPIO.WipeButton}} {
		if p.v == "" {
			continue
		}
		if !gpioName.MatchString(p.v) {
			return ferr(p.path, "%q is not a pin name like GPIO17", p.v)
		}
		if other, dup := used[p.v]; dup {
			return ferr(p.path, "%s is also %s", p.v, other)
		}
		used[p.v] = p.path
	}
	return nil
}

// Marshal encodes the config as YAML, secrets included (it is what gets
// written back to the config file). Use String for display.
func (c *Config) Marshal() ([]byte, error) {
	return yaml.MarshalWithOptions(c, yaml.Indent(2), yaml.IndentSequence(true))
}

// String is the config as YAML with every camera source and broker URL
// redacted and the uplink password hidden.
func (c *Config) String() string {
	r := *c
	r.Cameras = append([]Camera(nil), c.Cameras...)
	for i := range r.Cameras {
		r.Cameras[i].Source = URL(r.Cameras[i].Source.String())
	}
	if c.Uplink != nil {
		u := *c.Uplink
		u.Broker = URL(u.Broker.String())
		u.Password = Secret(u.Password.String())
		r.Uplink = &u
	}
	b, err := r.Marshal()
	if err != nil {
		return "config: " + err.Error()
	}
	return string(b)
}

// validZone reports whether name is an IANA zone the embedded database
// knows. "Local" is refused: it would mean the gateway's own setting,
// which a read-only firmware image does not have.
func validZone(name string) bool {
	if name == "Local" || strings.TrimSpace(name) != name {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// Location is the site's time zone (device.timezone; UTC when unset). The
// config was validated, so the name loads.
func (c *Config) Location() *time.Location {
	if c.Device.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(c.Device.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc

}

// parseAllow parses one lan.allowlist entry: a CIDR, or one address (a
// prefix of its full length).
func parseAllow(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// AllowPrefixes is lan.allowlist as prefixes. Validate checked every
// entry; one that does not parse (an unvalidated config) is left out.
func (l LAN) AllowPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range l.Allowlist {
		if p, err := parseAllow(a); err == nil {
			out = append(out, p)
		}
	}
	return out
}
