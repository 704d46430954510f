package onvif

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/ipv4"
)

// WS-Discovery (2005/04, as ONVIF Core §7 uses it).
const (
	nsWSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	nsWSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsDN  = "http://www.onvif.org/ver10/network/wsdl"
	// DiscoveryAddr is the WS-Discovery multicast group and port.
	DiscoveryAddr = "239.255.255.250:3702"
	// ProbeAction and ProbeMatchesAction are the WS-Addressing actions.
	ProbeAction        = nsWSD + "/Probe"
	ProbeMatchesAction = nsWSD + "/ProbeMatches"
)

// Discovery limits and defaults.
const (
	DefaultDiscoveryWait = 3 * time.Second // how long answers are collected
	MaxDiscoveryWait     = 10 * time.Second
	MaxFound             = 256   // distinct cameras kept per probe
	MaxDatagram          = 65507 // UDP payload; larger cannot arrive
	maxXAddrs            = 8
	maxScopes            = 32
)

// ErrDiscovery: the probe could not be sent (no socket, no route).
var ErrDiscovery = errors.New("onvif: discovery failed")

// Found is one camera that answered the probe.
type Found struct {
	Endpoint string   `json:"endpoint"` // EndpointReference address (urn:uuid:…), the camera's identity
	XAddrs   []string `json:"xaddrs"`   // device service addresses (http/https only)
	Name     string   `json:"name"`     // from the onvif://www.onvif.org/name/… scope
	Hardware string   `json:"hardware"` // from the …/hardware/… scope
	Location string   `json:"location"` // from the …/location/… scope
	Scopes   []string `json:"scopes"`
	From     string   `json:"from"` // address the answer came from
}

// DiscoveryResult is the outcome of one probe.
type DiscoveryResult struct {
	Found      []Found       `json:"found"`      // sorted by first XAddr
	Answers    int           `json:"answers"`    // datagrams received
	Duplicates int           `json:"duplicates"` // answers for an endpoint already found
	Ignored    int           `json:"ignored"`    // malformed, unrelated (wrong RelatesTo) or over MaxFound
	Took       time.Duration `json:"took_ns"`
	First      time.Duration `json:"first_ns"` // probe sent → first camera found (0: none)
}

// Discoverer sends WS-Discovery probes. The zero value probes the
// multicast group on the default route for DefaultDiscoveryWait.
type Discoverer struct {
	// Target is where the probe goes (default DiscoveryAddr). Tests and a
	// technician who knows the camera's address use host:3702 (unicast).
	Target string
	// Interface names the interface the multicast probe leaves by (the
	// camera LAN); empty = the routing table's choice.
	Interface string
	// Wait is how long answers are collected (default
	// DefaultDiscoveryWait, at most MaxDiscoveryWait).
	Wait   time.Duration
	Logger *slog.Logger
}

// Discover sends one Probe for NetworkVideoTransmitter and collects the
// matches until Wait or ctx ends. Answers are bounded (MaxDatagram each,
// MaxFound cameras), must relate to this probe, and are de-duplicated by
// endpoint; malformed ones are counted, not fatal.
func (d *Discoverer) Discover(ctx context.Context) (DiscoveryResult, error) {
	start := time.Now()
	wait := d.Wait
	if wait <= 0 {
		wait = DefaultDiscoveryWait
	}
	wait = min(wait, MaxDiscoveryWait)
	target := d.Target
	if target == "" {
		target = DiscoveryAddr
	}
	ta, err := net.ResolveUDPAddr("udp4", target)
	if err != nil {
		return DiscoveryResult{}, fmt.Errorf("%w: target %q: %v", ErrDiscovery, clipText(target, 64), err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return DiscoveryResult{}, fmt.Errorf("%w: %v", ErrDiscovery, err)
	}
	defer conn.Close()
	_ = conn.SetReadBuffer(1 << 20) // a burst of answers (capped by net.core.rmem_max)
	if ta.IP.IsMulticast() {
		pc := ipv4.NewPacketConn(conn)
		_ = pc.SetMulticastTTL(1) // the camera LAN only
		if d.Interface != "" {
			ifi, err := net.InterfaceByName(d.Interface)
			if err != nil {
				return DiscoveryResult{}, fmt.Errorf("%w: interface %q: %v", ErrDiscovery, clipText(d.Interface, 32), err)
			}
			if err := pc.SetMulticastInterface(ifi); err != nil {
				return DiscoveryResult{}, fmt.Errorf("%w: interface %q: %v", ErrDiscovery, d.Interface, err)
			}
		}
	}
	id := newMessageID()
	if _, err := conn.WriteToUDP(ProbeMessage(id), ta); err != nil {
		return DiscoveryResult{}, fmt.Errorf("%w: sending the probe to %s: %v", ErrDiscovery, ta, err)
	}
	deadline := start.Add(wait)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	var res DiscoveryResult
	byEP := map[string]int{}
	buf := make([]byte, MaxDatagram+1)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			return DiscoveryResult{}, fmt.Errorf("%w: %v", ErrDiscovery, err)
		}
		res.Answers++
		f, err := ParseProbeMatch(buf[:n], id)
		if err != nil {
			res.Ignored++
			if d.Logger != nil && res.Ignored <= 8 {
				d.Logger.Debug("onvif: discovery answer ignored", "from", from.String(), "err", err)
			}
			continue
		}
		f.From = from.Addr().Unmap().String()
		if i, ok := byEP[f.Endpoint]; ok {
			res.Duplicates++
			res.Found[i].XAddrs = mergeXAddrs(res.Found[i].XAddrs, f.XAddrs)
			continue
		}
		if len(res.Found) >= MaxFound {
			res.Ignored++
			continue
		}
		if len(res.Found) == 0 {
			res.First = time.Since(start)
		}
		byEP[f.Endpoint] = len(res.Found)
		res.Found = append(res.Found, f)
	}
	slices.SortFunc(res.Found, func(a, b Found) int { return strings.Compare(a.XAddrs[0], b.XAddrs[0]) })
	if res.Found == nil {
		res.Found = []Found{}
	}
	res.Took = time.Since(start)
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return res, ctx.Err()
	}
	return res, nil
}

func mergeXAddrs(a, b []string) []string {
	for _, x := range b {
		if len(a) < maxXAddrs && !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

func newMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ProbeMessage is the WS-Discovery Probe for ONVIF network video
// transmitters with message id id.
func ProbeMessage(id string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsWSA + `"><s:Header>` +
		`<a:Action s:mustUnderstand="1">` + ProbeAction + `</a:Action><a:MessageID>` + id + `</a:MessageID>` +
		`<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>` +
		`<s:Body><d:Probe xmlns:d="` + nsWSD + `"><d:Types xmlns:dn="` + nsDN + `">dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`)
}

type probeMatchEnv struct {
	XMLName xml.Name `xml:"Envelope"`
	Header  struct {
		RelatesTo string `xml:"RelatesTo"`
		Action    string `xml:"Action"`
	} `xml:"Header"`
	Body struct {
		PM *struct {
			Match []struct {
				EPR struct {
					Address string `xml:"Address"`
				} `xml:"EndpointReference"`
				Types  string `xml:"Types"`
				Scopes string `xml:"Scopes"`
				XAddrs string `xml:"XAddrs"`
			} `xml:"ProbeMatch"`
		} `xml:"ProbeMatches"`
	} `xml:"Body"`
}

// ParseProbeMatch parses one discovery answer. With messageID set, the
// answer must relate to it (an unrelated or spoofed answer is refused).
// It keeps the first match that is a NetworkVideoTransmitter with at least
// one http(s) XAddr. Pure; fuzzed.
func ParseProbeMatch(data []byte, messageID string) (Found, error) {
	if len(data) > MaxDatagram {
		return Found{}, fmt.Errorf("%w: discovery answer over %d bytes", ErrTooLarge, MaxDatagram)
	}
	var env probeMatchEnv
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	if err := d.Decode(&env); err != nil {
		return Found{}, fmt.Errorf("%w: discovery answer: %v", ErrBadAnswer, err)
	}
	if messageID != "" && strings.TrimSpace(env.Header.RelatesTo) != messageID {
		return Found{}, fmt.Errorf("%w: discovery answer relates to another message", ErrBadAnswer)
	}
	if env.Body.PM == nil || len(env.Body.PM.Match) == 0 {
		return Found{}, fmt.Errorf("%w: discovery answer has no ProbeMatch", ErrBadAnswer)
	}
	for _, m := range env.Body.PM.Match[:min(len(env.Body.PM.Match), 16)] {
		if !slices.ContainsFunc(strings.Fields(m.Types), func(t string) bool { return local(t) == "NetworkVideoTransmitter" }) {
			continue
		}
		ep := clipText(strings.TrimSpace(m.EPR.Address), 256)
		if ep == "" {
			continue
		}
		f := Found{Endpoint: ep, XAddrs: []string{}, Scopes: []string{}}
		for _, x := range strings.Fields(m.XAddrs) {
			if _, err := CheckXAddr(x); err == nil && len(f.XAddrs) < maxXAddrs {
				f.XAddrs = append(f.XAddrs, x)
			}
		}
		if len(f.XAddrs) == 0 {
			continue
		}
		for _, s := range strings.Fields(m.Scopes) {
			if len(f.Scopes) >= maxScopes || len(s) > 256 {
				continue
			}
			s = clipText(s, 256)
			f.Scopes = append(f.Scopes, s)
			for key, dst := range map[string]*string{"name": &f.Name, "hardware": &f.Hardware, "location": &f.Location} {
				if v, ok := strings.CutPrefix(s, "onvif://www.onvif.org/"+key+"/"); ok && *dst == "" {
					if uv, err := url.PathUnescape(v); err == nil {
						v = uv
					}
					*dst = clipText(v, 64)
				}
			}
		}
		return f, nil
	}
	return Found{}, fmt.Errorf("%w: discovery answer has no NetworkVideoTransmitter with an http address", ErrBadAnswer)
}
