package onvif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Client talks to one camera's device service (Profile S). Create it with
// NewClient; one set-up at a time (not for concurrent use).
type Client struct {
	device string // device service XAddr, http(s)://host[:port]/path
	host   string // host of device, used for the media service
	cred   Credentials
	hc     *http.Client
	// shift is camera clock − gateway clock, learned from
	// GetSystemDateAndTime (so that a camera with a wrong clock still
	// accepts the digest's Created time).
	shift time.Duration
	now   func() time.Time
	media string
}

// ClientOption tunes a Client.
type ClientOption func(*Client)

// WithHTTPClient replaces the HTTP client (default: no proxy, no
// redirects, 5 s per call).
func WithHTTPClient(hc *http.Client) ClientOption { return func(c *Client) { c.hc = hc } }

// WithNow replaces the gateway clock (tests).
func WithNow(now func() time.Time) ClientOption { return func(c *Client) { c.now = now } }

// CheckXAddr validates a device service address: http or https, a host,
// no user info, at most 512 bytes. Pure; fuzzed.
func CheckXAddr(xaddr string) (*url.URL, error) {
	if len(xaddr) > 512 || strings.ContainsFunc(xaddr, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return nil, fmt.Errorf("%w: device address is malformed", ErrInvalid)
	}
	u, err := url.Parse(xaddr)
	if err != nil {
		return nil, fmt.Errorf("%w: device address is malformed", ErrInvalid)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: device address must be http:// or https:// (got %q)", ErrInvalid, clipText(u.Scheme, 16))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: device address has no host", ErrInvalid)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: put the user name and password in their fields, not in the device address", ErrInvalid)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%w: device address has a bad port", ErrInvalid)
		}
	}
	return u, nil
}

// NewClient checks the device service address (from discovery's XAddrs or
// typed by the installer) and returns a client.
func NewClient(xaddr string, cred Credentials, opts ...ClientOption) (*Client, error) {
	u, err := CheckXAddr(xaddr)
	if err != nil {
		return nil, err
	}
	if len(cred.Username) > 128 || len(cred.Password) > 256 || strings.ContainsAny(cred.Username, "\x00\r\n") {
		return nil, fmt.Errorf("%w: user name or password too long or with control characters", ErrInvalid)
	}
	c := &Client{device: u.String(), host: u.Hostname(), cred: cred, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = DefaultHTTPClient()
	}
	return c, nil
}

// DefaultHTTPClient is the client NewClient uses: no proxy from the
// environment, no redirects (a camera never redirects SOAP), bounded dial
// and header times, and only camera-LAN addresses (LANOnly).
func DefaultHTTPClient() *http.Client { return httpClient(false) }

func httpClient(loopback bool) *http.Client {
	d := &net.Dialer{Timeout: 3 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		return LANOnly(address, loopback)
	}}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		TLSHandshakeTimeout:    3 * time.Second,
		ResponseHeaderTimeout:  DefaultCallTimeout,
		MaxResponseHeaderBytes: 16 << 10,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        10 * time.Second,
		DisableCompression:     true,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// ErrNotLAN: the address is not on a camera LAN.
var ErrNotLAN = errors.New("onvif: cameras are reached on the LAN only (private, link-local or unique-local addresses)")

// LANOnly is checked on every connection (after name resolution, so a
// host name that resolves elsewhere is refused too): private IPv4
// (RFC 1918), link-local, IPv6 unique-local; loopback only when allowed
// (the demo and tests). The LAN page cannot be used to make the gateway
// talk to the Internet or to its own services.
func LANOnly(address string, loopback bool) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrNotLAN, address)
	}
	a := ap.Addr().Unmap()
	switch {
	case a.IsLoopback():
		if loopback {
			return nil
		}
	case a.IsPrivate(), a.IsLinkLocalUnicast():
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNotLAN, a)
}

// WithLoopback lets the client reach loopback addresses (the demo's and
// the tests' ONVIF test device).
func WithLoopback() ClientOption { return func(c *Client) { c.hc = httpClient(true) } }

func (c *Client) do(ctx context.Context, url, ns, op, body, want string, out any) error {
	hdr, err := securityHeader(c.cred, c.now().Add(c.shift))
	if err != nil {
		return err
	}
	return call(ctx, c.hc, url, ns+"/"+op, envelope(hdr, body), want, out)
}

// DeviceInfo is GetDeviceInformation's answer.
type DeviceInfo struct {
	Manufacturer    string `json:"manufacturer" xml:"Manufacturer"`
	Model           string `json:"model" xml:"Model"`
	FirmwareVersion string `json:"firmware" xml:"FirmwareVersion"`
	SerialNumber    string `json:"serial" xml:"SerialNumber"`
	HardwareID      string `json:"hardware_id" xml:"HardwareId"`
}

func (d *DeviceInfo) clean() {
	for _, p := range []*string{&d.Manufacturer, &d.Model, &d.FirmwareVersion, &d.SerialNumber, &d.HardwareID} {
		*p = clipText(strings.TrimSpace(*p), 128)
	}
}

// DeviceInformation reads make, model, firmware and serial number.
func (c *Client) DeviceInformation(ctx context.Context) (DeviceInfo, error) {
	var d DeviceInfo
	err := c.do(ctx, c.device, nsDevice, "GetDeviceInformation", `<GetDeviceInformation xmlns="`+nsDevice+`"/>`, "GetDeviceInformationResponse", &d)
	if err != nil {
		return DeviceInfo{}, err
	}
	d.clean()
	if d.Manufacturer == "" && d.Model == "" {
		return DeviceInfo{}, fmt.Errorf("%w: GetDeviceInformationResponse has neither Manufacturer nor Model", ErrBadAnswer)
	}
	return d, nil
}

// Clock is the camera's clock (GetSystemDateAndTime).
type Clock struct {
	UTC      time.Time `json:"utc"`
	Type     string    `json:"type"`     // Manual or NTP
	TimeZone string    `json:"timezone"` // POSIX TZ string, as the camera keeps it
}

type xmlDateTime struct {
	Time struct {
		Hour   int `xml:"Hour"`
		Minute int `xml:"Minute"`
		Second int `xml:"Second"`
	} `xml:"Time"`
	Date struct {
		Year  int `xml:"Year"`
		Month int `xml:"Month"`
		Day   int `xml:"Day"`
	} `xml:"Date"`
}

type systemDateAndTime struct {
	SDT struct {
		DateTimeType string `xml:"DateTimeType"`
		TimeZone     struct {
			TZ string `xml:"TZ"`
		} `xml:"TimeZone"`
		UTC *xmlDateTime `xml:"UTCDateTime"`
	} `xml:"SystemDateAndTime"`
}

// parseClock checks the fields of a GetSystemDateAndTimeResponse. Pure;
// fuzzed.
func parseClock(r systemDateAndTime) (Clock, error) {
	u := r.SDT.UTC
	if u == nil {
		return Clock{}, fmt.Errorf("%w: GetSystemDateAndTimeResponse has no UTCDateTime", ErrBadAnswer)
	}
	d, t := u.Date, u.Time
	if d.Year < 1970 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 ||
		t.Hour < 0 || t.Hour > 23 || t.Minute < 0 || t.Minute > 59 || t.Second < 0 || t.Second > 60 {
		return Clock{}, fmt.Errorf("%w: GetSystemDateAndTimeResponse has an invalid date or time", ErrBadAnswer)
	}
	at := time.Date(d.Year, time.Month(d.Month), d.Day, t.Hour, t.Minute, t.Second, 0, time.UTC)
	if at.Day() != d.Day {
		return Clock{}, fmt.Errorf("%w: GetSystemDateAndTimeResponse has an invalid date", ErrBadAnswer)
	}
	return Clock{UTC: at, Type: clipText(strings.TrimSpace(r.SDT.DateTimeType), 16), TimeZone: clipText(strings.TrimSpace(r.SDT.TimeZone.TZ), 64)}, nil
}

// SystemDateAndTime reads the camera's clock and remembers its offset to
// the gateway's clock for the digest's Created time. It is sent without
// credentials first (the spec allows it unauthenticated) and with them if
// the camera asks.
func (c *Client) SystemDateAndTime(ctx context.Context) (Clock, error) {
	const body = `<GetSystemDateAndTime xmlns="` + nsDevice + `"/>`
	var r systemDateAndTime
	sent := c.now()
	err := call(ctx, c.hc, c.device, nsDevice+"/GetSystemDateAndTime", envelope("", body), "GetSystemDateAndTimeResponse", &r)
	if errors.Is(err, ErrUnauthorized) && c.cred.Username != "" {
		r = systemDateAndTime{}
		sent = c.now()
		err = c.do(ctx, c.device, nsDevice, "GetSystemDateAndTime", body, "GetSystemDateAndTimeResponse", &r)
	}
	if err != nil {
		return Clock{}, err
	}
	clk, err := parseClock(r)
	if err != nil {
		return Clock{}, err
	}
	c.shift = clk.UTC.Sub(sent.Add(c.now().Sub(sent) / 2)).Truncate(time.Second)
	return clk, nil
}

// Shift is camera clock − gateway clock as of the last SystemDateAndTime.
func (c *Client) Shift() time.Duration { return c.shift }

// SetSystemDateAndTime sets the camera's clock to at (the gateway's synced
// clock), Manual, keeping the camera's time zone, and re-learns the offset.
func (c *Client) SetSystemDateAndTime(ctx context.Context, at time.Time) error {
	at = at.UTC()
	body := fmt.Sprintf(`<SetSystemDateAndTime xmlns="%s"><DateTimeType>Manual</DateTimeType><DaylightSavings>false</DaylightSavings>`+
		`<UTCDateTime><Time xmlns="%s"><Hour>%d</Hour><Minute>%d</Minute><Second>%d</Second></Time>`+
		`<Date xmlns="%s"><Year>%d</Year><Month>%d</Month><Day>%d</Day></Date></UTCDateTime></SetSystemDateAndTime>`,
		nsDevice, nsSchema, at.Hour(), at.Minute(), at.Second(), nsSchema, at.Year(), int(at.Month()), at.Day())
	var r struct{}
	if err := c.do(ctx, c.device, nsDevice, "SetSystemDateAndTime", body, "SetSystemDateAndTimeResponse", &r); err != nil {
		return err
	}
	c.shift = 0
	return nil
}

type capabilities struct {
	Caps struct {
		Media struct {
			XAddr string `xml:"XAddr"`
		} `xml:"Media"`
	} `xml:"Capabilities"`
}

// MediaAddress asks GetCapabilities for the media service address. The
// camera's host in it is replaced by the host the installer chose (a
// camera behind NAT or with a stale address reports the wrong one, and
// the gateway talks only to the host it was given); port and path stay.
func (c *Client) MediaAddress(ctx context.Context) (string, error) {
	if c.media != "" {
		return c.media, nil
	}
	var r capabilities
	err := c.do(ctx, c.device, nsDevice, "GetCapabilities",
		`<GetCapabilities xmlns="`+nsDevice+`"><Category>Media</Category></GetCapabilities>`, "GetCapabilitiesResponse", &r)
	if err != nil {
		return "", err
	}
	m, err := mediaAddress(c.device, strings.TrimSpace(r.Caps.Media.XAddr))
	if err != nil {
		return "", err
	}
	c.media = m
	return m, nil
}

// mediaAddress rebases a media XAddr on the device's host. Pure; fuzzed.
func mediaAddress(device, xaddr string) (string, error) {
	if xaddr == "" {
		return "", fmt.Errorf("%w: GetCapabilitiesResponse has no Media XAddr (not a Profile S device)", ErrBadAnswer)
	}
	mu, err := CheckXAddr(xaddr)
	if err != nil {
		return "", fmt.Errorf("%w: Media XAddr: %w", ErrBadAnswer, err)
	}
	du, err := url.Parse(device)
	if err != nil {
		return "", fmt.Errorf("%w: device address is malformed", ErrInvalid)
	}
	host := du.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := mu.Port(); p != "" {
		host += ":" + p
	}
	mu.Host = host
	mu.Scheme = du.Scheme
	return mu.String(), nil
}

// Profile is one media profile (GetProfiles) with its video encoder.
type Profile struct {
	Token       string `json:"token"`
	Name        string `json:"name"`
	Encoding    string `json:"encoding"` // H264, H265, JPEG, MPEG4
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	FPS         int    `json:"fps"`
	BitrateKbps int    `json:"bitrate_kbps"`
	SourceToken string `json:"source_token"`
}

type xmlProfile struct {
	Token string `xml:"token,attr"`
	Name  string `xml:"Name"`
	VSC   *struct {
		SourceToken string `xml:"SourceToken"`
	} `xml:"VideoSourceConfiguration"`
	VEC *struct {
		Encoding   string `xml:"Encoding"`
		Resolution struct {
			Width  int `xml:"Width"`
			Height int `xml:"Height"`
		} `xml:"Resolution"`
		RateControl struct {
			FrameRateLimit int `xml:"FrameRateLimit"`
			BitrateLimit   int `xml:"BitrateLimit"`
		} `xml:"RateControl"`
	} `xml:"VideoEncoderConfiguration"`
}

type getProfiles struct {
	Profiles []xmlProfile `xml:"Profiles"`
}

// MaxProfiles bounds the profiles taken from one camera.
const MaxProfiles = 32

// parseProfiles keeps the video profiles of a GetProfilesResponse. Pure;
// fuzzed.
func parseProfiles(r getProfiles) ([]Profile, error) {
	if len(r.Profiles) > MaxProfiles {
		return nil, fmt.Errorf("%w: GetProfilesResponse has %d profiles (limit %d)", ErrBadAnswer, len(r.Profiles), MaxProfiles)
	}
	var out []Profile
	seen := map[string]bool{}
	for i, x := range r.Profiles {
		tok := strings.TrimSpace(x.Token)
		if tok == "" || len(tok) > 64 || strings.ContainsFunc(tok, func(r rune) bool { return r < 0x21 || r == '<' || r == '&' || r == 0x7f }) {
			return nil, fmt.Errorf("%w: GetProfilesResponse: profile %d has a missing or invalid token", ErrBadAnswer, i+1)
		}
		if seen[tok] {
			return nil, fmt.Errorf("%w: GetProfilesResponse: profile token %q appears twice", ErrBadAnswer, tok)
		}
		seen[tok] = true
		if x.VEC == nil {
			continue // audio-only or metadata profile
		}
		p := Profile{Token: tok, Name: clipText(strings.TrimSpace(x.Name), 64), Encoding: clipText(strings.ToUpper(strings.TrimSpace(x.VEC.Encoding)), 16),
			Width: x.VEC.Resolution.Width, Height: x.VEC.Resolution.Height, FPS: x.VEC.RateControl.FrameRateLimit, BitrateKbps: x.VEC.RateControl.BitrateLimit}
		if x.VSC != nil {
			p.SourceToken = clipText(strings.TrimSpace(x.VSC.SourceToken), 64)
		}
		if p.Width < 0 || p.Width > 16384 || p.Height < 0 || p.Height > 16384 || p.FPS < 0 || p.FPS > 1000 || p.BitrateKbps < 0 {
			return nil, fmt.Errorf("%w: GetProfilesResponse: profile %q has an impossible resolution, frame rate or bitrate", ErrBadAnswer, tok)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the camera has no video profile", ErrBadAnswer)
	}
	return out, nil
}

// Profiles reads the media profiles that carry video.
func (c *Client) Profiles(ctx context.Context) ([]Profile, error) {
	m, err := c.MediaAddress(ctx)
	if err != nil {
		return nil, err
	}
	var r getProfiles
	if err := c.do(ctx, m, nsMedia, "GetProfiles", `<GetProfiles xmlns="`+nsMedia+`"/>`, "GetProfilesResponse", &r); err != nil {
		return nil, err
	}
	return parseProfiles(r)
}

type getStreamURI struct {
	MediaURI struct {
		URI string `xml:"Uri"`
	} `xml:"MediaUri"`
}

// checkStreamURI accepts rtsp:// or rtsps:// with a host and no user info
// (the installer's credentials are added by the page). Pure; fuzzed.
func checkStreamURI(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 1024 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return "", fmt.Errorf("%w: GetStreamUriResponse: missing or malformed Uri", ErrBadAnswer)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Hostname() == "" {
		return "", fmt.Errorf("%w: GetStreamUriResponse: the stream address is not rtsp://host/…", ErrBadAnswer)
	}
	u.User = nil
	return u.String(), nil
}

// StreamURI asks for the RTSP (RTP over RTSP/TCP, unicast) address of a
// profile.
func (c *Client) StreamURI(ctx context.Context, profile string) (string, error) {
	m, err := c.MediaAddress(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(`<GetStreamUri xmlns="` + nsMedia + `"><StreamSetup><Stream xmlns="` + nsSchema + `">RTP-Unicast</Stream>` +
		`<Transport xmlns="` + nsSchema + `"><Protocol>RTSP</Protocol></Transport></StreamSetup><ProfileToken>`)
	xmlEscape(&b, profile)
	b.WriteString(`</ProfileToken></GetStreamUri>`)
	var r getStreamURI
	if err := c.do(ctx, m, nsMedia, "GetStreamUri", b.String(), "GetStreamUriResponse", &r); err != nil {
		return "", err
	}
	return checkStreamURI(r.MediaURI.URI)
}

// MainAndSub picks the main stream (most pixels, then frame rate) and the
// sub stream (fewest pixels, another profile) among the profiles of the
// first video source. sub is -1 when there is only one profile.
func MainAndSub(ps []Profile) (main, sub int) {
	if len(ps) == 0 {
		return -1, -1
	}
	src := ps[0].SourceToken
	var idx []int
	for i, p := range ps {
		if p.SourceToken == src {
			idx = append(idx, i)
		}
	}
	px := func(i int) int { return ps[i].Width * ps[i].Height }
	slices.SortStableFunc(idx, func(a, b int) int {
		if px(a) != px(b) {
			return px(b) - px(a)
		}
		return ps[b].FPS - ps[a].FPS
	})
	main, sub = idx[0], -1
	if len(idx) > 1 {
		sub = idx[len(idx)-1]
	}
	return main, sub
}
