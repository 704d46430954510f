package onviftest

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // the UsernameToken PasswordDigest is SHA-1 by definition
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Profile is one media profile of the test device.
type Profile struct {
	Token    string
	Name     string
	Encoding string // H264 or H265
	Width    int
	Height   int
	FPS      int
	Kbps     int
	URI      string // what GetStreamUri answers for it
}

// Config describes the test device. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	Username, Password string
	Endpoint           string // urn:uuid:… (EndpointReference)
	Manufacturer       string
	Model              string
	Firmware           string
	Serial             string
	HardwareID         string
	Name               string // scope onvif://www.onvif.org/name/…
	Profiles           []Profile
	// ClockOffset is camera clock − real clock at start.
	ClockOffset time.Duration
	// HTTPAddr is where the device service listens (default 127.0.0.1:0).
	HTTPAddr string
	// DiscoveryAddr is the unicast UDP address the device answers probes
	// on (default 127.0.0.1:0; "-" = none).
	DiscoveryAddr string
	// MulticastInterface, if set, also joins 239.255.255.250:3702 on that
	// interface ("lo" inside a test network namespace).
	MulticastInterface string
	// AdvertisedHost, if set, replaces the host (not the port) in the
	// service addresses GetCapabilities and GetServices report, as a camera
	// behind NAT or with a stale address does.
	AdvertisedHost string
	Logger         *slog.Logger
}

// DefaultConfig is a two-profile (main 1920×1080, sub 640×360) H.264
// camera with user "admin", password "secret-pass".
func DefaultConfig() Config {
	return Config{
		Username: "admin", Password: "secret-pass",
		Endpoint:     "urn:uuid:6a1d3b5e-0c3f-4a51-9a2e-1b7c8d9e0f10",
		Manufacturer: "EdgerecTest", Model: "ET-2MP", Firmware: "V5.7.3 build 251101", Serial: "ET2M-000123", HardwareID: "ET2M-HW1",
		Name: "Loopback camera",
		Profiles: []Profile{
			{Token: "Profile_1", Name: "mainStream", Encoding: "H264", Width: 1920, Height: 1080, FPS: 25, Kbps: 4096, URI: "rtsp://127.0.0.1:8554/cam/main"},
			{Token: "Profile_2", Name: "subStream", Encoding: "H264", Width: 640, Height: 360, FPS: 15, Kbps: 512, URI: "rtsp://127.0.0.1:8554/cam/sub"},
		},
	}
}

// Mode is a misbehaviour of the device service.
type Mode int

// Misbehaviours (bad-input tests).
const (
	Normal       Mode = iota
	Malformed         // answer with broken XML
	Huge              // answer with a valid envelope padded to Size bytes
	Slow              // wait Delay before answering (or until the client gives up)
	WrongElement      // answer with another operation's response element
	BadStreamURI      // GetStreamUri answers an http:// address
	NoVideo           // GetProfiles answers profiles without a video encoder
)

// Behavior applies Mode to operation Op ("" = every operation).
type Behavior struct {
	Op    string
	Mode  Mode
	Size  int
	Delay time.Duration
}

// Storm makes the discovery responder answer each probe with Copies
// copies of its own match, Distinct further cameras (distinct endpoints),
// Junk malformed datagrams and Unrelated matches with a wrong RelatesTo.
// Pace sends them two a millisecond (so that loopback does
// not drop them).
type Storm struct {
	Copies, Distinct, Junk, Unrelated int
	Pace                              bool
}

// Device is a running test device. Create it with Start.
type Device struct {
	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	srv    *http.Server
	udp    *net.UDPConn
	mcast  *net.UDPConn
	wg     sync.WaitGroup
	cancel context.CancelFunc

	mu       sync.Mutex
	offset   time.Duration // camera clock − real clock
	dtType   string
	behavior Behavior
	storm    Storm
	nonces   map[string]time.Time
	sets     int
	calls    map[string]int
	authFail int
}

// Start listens on loopback and serves until Close.
func Start(cfg Config) (*Device, error) {
	def := DefaultConfig()
	if cfg.Username == "" {
		cfg.Username, cfg.Password = def.Username, def.Password
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = def.Endpoint
	}
	if cfg.Manufacturer == "" {
		cfg.Manufacturer, cfg.Model, cfg.Firmware, cfg.Serial, cfg.HardwareID = def.Manufacturer, def.Model, def.Firmware, def.Serial, def.HardwareID
	}
	if cfg.Name == "" {
		cfg.Name = def.Name
	}
	if cfg.Profiles == nil {
		cfg.Profiles = def.Profiles
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.DiscoveryAddr == "" {
		cfg.DiscoveryAddr = "127.0.0.1:0"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Device{cfg: cfg, log: log, offset: cfg.ClockOffset, dtType: "Manual", nonces: map[string]time.Time{}, calls: map[string]int{}}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("onviftest: listen: %w", err)
	}
	d.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("POST /onvif/device_service", d.serve(deviceService))
	mux.HandleFunc("POST /onvif/media_service", d.serve(mediaService))
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	d.wg.Add(1)
	go func() { defer d.wg.Done(); _ = d.srv.Serve(ln) }()
	if cfg.DiscoveryAddr != "-" {
		ua, err := net.ResolveUDPAddr("udp4", cfg.DiscoveryAddr)
		if err == nil {
			d.udp, err = net.ListenUDP("udp4", ua)
		}
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("onviftest: discovery socket: %w", err)
		}
		d.wg.Add(1)
		go func() { defer d.wg.Done(); d.discoveryLoop(ctx, d.udp) }()
	}
	if cfg.MulticastInterface != "" {
		ifi, err := net.InterfaceByName(cfg.MulticastInterface)
		if err == nil {
			d.mcast, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(239, 255, 255, 250), Port: 3702})
		}
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("onviftest: multicast on %s: %w", cfg.MulticastInterface, err)
		}
		d.wg.Add(1)
		go func() { defer d.wg.Done(); d.discoveryLoop(ctx, d.mcast) }()
	}
	return d, nil
}

// Close stops the device.
func (d *Device) Close() {
	if d.cancel != nil {
		d.cancel()
	}
	if d.srv != nil {
		_ = d.srv.Close()
	}
	if d.udp != nil {
		_ = d.udp.Close()
	}
	if d.mcast != nil {
		_ = d.mcast.Close()
	}
	d.wg.Wait()
}

// XAddr is the device service address.
func (d *Device) XAddr() string { return "http://" + d.ln.Addr().String() + "/onvif/device_service" }

// DiscoveryAddr is the unicast discovery address (host:port).
func (d *Device) DiscoveryAddr() string {
	if d.udp == nil {
		return ""
	}
	return d.udp.LocalAddr().String()
}

// Endpoint is the device's EndpointReference address.
func (d *Device) Endpoint() string { return d.cfg.Endpoint }

// Clock is the camera's clock now.
func (d *Device) Clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Now().Add(d.offset).UTC()
}

// Sets counts the SetSystemDateAndTime calls that were applied.
func (d *Device) Sets() int { d.mu.Lock(); defer d.mu.Unlock(); return d.sets }

// Calls counts the calls of an operation that were answered successfully.
func (d *Device) Calls(op string) int { d.mu.Lock(); defer d.mu.Unlock(); return d.calls[op] }

// AuthFailures counts refused credentials.
func (d *Device) AuthFailures() int { d.mu.Lock(); defer d.mu.Unlock(); return d.authFail }

// Behave sets the misbehaviour of the device service.
func (d *Device) Behave(b Behavior) { d.mu.Lock(); d.behavior = b; d.mu.Unlock() }

// SetStorm sets the discovery storm.
func (d *Device) SetStorm(s Storm) { d.mu.Lock(); d.storm = s; d.mu.Unlock() }

// SetClockOffset sets camera clock − real clock.
func (d *Device) SetClockOffset(off time.Duration) { d.mu.Lock(); d.offset = off; d.mu.Unlock() }

type service int

const (
	deviceService service = iota
	mediaService
)

// request is what the device reads from a SOAP request.
type request struct {
	Header struct {
		Security *struct {
			UsernameToken struct {
				Username string `xml:"Username"`
				Password struct {
					Type  string `xml:"Type,attr"`
					Value string `xml:",chardata"`
				} `xml:"Password"`
				Nonce   string `xml:"Nonce"`
				Created string `xml:"Created"`
			} `xml:"UsernameToken"`
		} `xml:"Security"`
	} `xml:"Header"`
	Body struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"Body"`
}

// operation is the body's first element.
type operation struct {
	XMLName      xml.Name
	ProfileToken string `xml:"ProfileToken"`
	DateTimeType string `xml:"DateTimeType"`
	UTC          *struct {
		Time struct{ Hour, Minute, Second int } `xml:"Time"`
		Date struct{ Year, Month, Day int }     `xml:"Date"`
	} `xml:"UTCDateTime"`
	Category string `xml:"Category"`
}

// preAuth are the operations of access class PRE_AUTH (ONVIF Core §5.9.4.3).
var preAuth = map[string]bool{"GetSystemDateAndTime": true, "GetCapabilities": true, "GetServices": true, "GetServiceCapabilities": true, "GetEndpointReference": true, "GetWsdlUrl": true}

func (d *Device) serve(svc service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			return
		}
		var req request
		if err := xml.Unmarshal(body, &req); err != nil {
			fault(w, http.StatusBadRequest, "env:Sender", "ter:WellFormed", "the request is not well-formed XML")
			return
		}
		var op operation
		if err := xml.Unmarshal(req.Body.Inner, &op); err != nil || op.XMLName.Local == "" {
			fault(w, http.StatusBadRequest, "env:Sender", "ter:WellFormed", "the SOAP body has no operation")
			return
		}
		name := op.XMLName.Local
		if !preAuth[name] && !d.authorized(&req) {
			fault(w, http.StatusBadRequest, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")
			return
		}
		d.mu.Lock()
		b := d.behavior
		d.mu.Unlock()
		if b.Op == "" || b.Op == name {
			if d.misbehave(w, r, b, name) {
				return
			}
		}
		var out string
		switch {
		case svc == deviceService && name == "GetSystemDateAndTime":
			out = d.dateTime()
		case svc == deviceService && name == "SetSystemDateAndTime":
			if out, err = d.setDateTime(op); err != nil {
				fault(w, http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal", err.Error())
				return
			}
		case svc == deviceService && name == "GetDeviceInformation":
			out = d.deviceInfo()
		case svc == deviceService && name == "GetCapabilities":
			out = d.capabilities(r)
		case svc == deviceService && name == "GetServices":
			out = d.services(r)
		case svc == mediaService && name == "GetProfiles":
			out = d.profiles(b.Mode == NoVideo && (b.Op == "" || b.Op == name))
		case svc == mediaService && name == "GetVideoSources":
			out = d.videoSources()
		case svc == mediaService && name == "GetStreamUri":
			uri, ok := d.streamURI(op.ProfileToken)
			if !ok {
				fault(w, http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal", "no such profile")
				return
			}
			if b.Mode == BadStreamURI && (b.Op == "" || b.Op == name) {
				uri = "http://127.0.0.1/not-rtsp"
			}
			out = streamURIResponse(uri)
		default:
			fault(w, http.StatusBadRequest, "env:Receiver", "ter:ActionNotSupported", "optional action not implemented: "+name)
			return
		}
		d.mu.Lock()
		d.calls[name]++
		d.mu.Unlock()
		writeEnvelope(w, http.StatusOK, out)
	}
}

// authorized checks the WS-UsernameToken: user, PasswordDigest =
// Base64(SHA-1(nonce + created + password)), Created within 5 min of the
// camera's clock, nonce not seen before.
func (d *Device) authorized(req *request) bool {
	ok := d.checkToken(req)
	if !ok {
		d.mu.Lock()
		d.authFail++
		d.mu.Unlock()
	}
	return ok
}

func (d *Device) checkToken(req *request) bool {
	s := req.Header.Security
	if s == nil {
		return false
	}
	t := s.UsernameToken
	if !strings.HasSuffix(t.Password.Type, "#PasswordDigest") {
		return false
	}
	nonce, err := base64.StdEncoding.DecodeString(strings.TrimSpace(t.Nonce))
	if err != nil || len(nonce) < 8 {
		return false
	}
	created, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(t.Created))
	if err != nil {
		return false
	}
	now := d.Clock()
	if created.Sub(now) > 5*time.Minute || now.Sub(created) > 5*time.Minute {
		return false
	}
	h := sha1.New() //nolint:gosec
	h.Write(nonce)
	h.Write([]byte(strings.TrimSpace(t.Created)))
	h.Write([]byte(d.cfg.Password))
	want := base64.StdEncoding.EncodeToString(h.Sum(nil))
	userOK := subtle.ConstantTimeCompare([]byte(strings.TrimSpace(t.Username)), []byte(d.cfg.Username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(strings.TrimSpace(t.Password.Value)), []byte(want)) == 1
	if !userOK || !passOK {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := string(nonce) + "|" + t.Created
	if _, seen := d.nonces[key]; seen {
		return false // replay
	}
	if len(d.nonces) > 4096 {
		clear(d.nonces)
	}
	d.nonces[key] = now
	return true
}

func (d *Device) misbehave(w http.ResponseWriter, r *http.Request, b Behavior, name string) bool {
	switch b.Mode {
	case Malformed:
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `<?xml version="1.0"?><s:Envelope xmlns:s="`+nsSOAP+`"><s:Body><tds:`+name+`Response xmlns:tds="`+nsDevice+`"><tds:Manufacturer>Broken</s:Body>`)
		return true
	case Huge:
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `<?xml version="1.0"?><s:Envelope xmlns:s="`+nsSOAP+`"><s:Body><tds:`+name+`Response xmlns:tds="`+nsDevice+`"><tds:Manufacturer>`)
		chunk := bytes.Repeat([]byte("A"), 32<<10)
		for n := 0; n < b.Size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return true
			}
		}
		_, _ = io.WriteString(w, `</tds:Manufacturer></tds:`+name+`Response></s:Body></s:Envelope>`)
		return true
	case Slow:
		select {
		case <-time.After(b.Delay):
		case <-r.Context().Done():
			return true
		}
	case WrongElement:
		writeEnvelope(w, http.StatusOK, `<tds:GetHostnameResponse xmlns:tds="`+nsDevice+`"><tds:HostnameInformation><tt:FromDHCP xmlns:tt="`+nsSchema+`">false</tt:FromDHCP></tds:HostnameInformation></tds:GetHostnameResponse>`)
		return true
	}
	return false
}

func (d *Device) setDateTime(op operation) (string, error) {
	if op.DateTimeType != "Manual" && op.DateTimeType != "NTP" {
		return "", errors.New("DateTimeType must be Manual or NTP")
	}
	if op.DateTimeType == "Manual" {
		if op.UTC == nil {
			return "", errors.New("UTCDateTime is required for Manual")
		}
		u := op.UTC
		at := time.Date(u.Date.Year, time.Month(u.Date.Month), u.Date.Day, u.Time.Hour, u.Time.Minute, u.Time.Second, 0, time.UTC)
		if u.Date.Year < 2000 || at.Day() != u.Date.Day || at.Hour() != u.Time.Hour || at.Minute() != u.Time.Minute || u.Time.Second > 59 || u.Time.Second < 0 {
			return "", errors.New("invalid date or time")
		}
		d.mu.Lock()
		d.offset = time.Until(at)
		d.mu.Unlock()
	}
	d.mu.Lock()
	d.dtType = op.DateTimeType
	d.sets++
	d.mu.Unlock()
	return `<tds:SetSystemDateAndTimeResponse xmlns:tds="` + nsDevice + `"/>`, nil
}

func (d *Device) streamURI(token string) (string, bool) {
	for _, p := range d.cfg.Profiles {
		if p.Token == strings.TrimSpace(token) {
			return p.URI, true
		}
	}
	return "", false
}

// hostOf is the address the client reached the device on (host:port), used
// in the XAddrs the device reports (with Config.AdvertisedHost instead of
// the host when set).
func (d *Device) hostOf(r *http.Request) string {
	if d.cfg.AdvertisedHost == "" {
		return r.Host
	}
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		return d.cfg.AdvertisedHost
	}
	return net.JoinHostPort(d.cfg.AdvertisedHost, port)
}
