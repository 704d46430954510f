package onviftest

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"net"
	"strings"
	"time"
)

type probe struct {
	Header struct {
		MessageID string `xml:"MessageID"`
		Action    string `xml:"Action"`
	} `xml:"Header"`
	Body struct {
		Probe *struct {
			Types string `xml:"Types"`
		} `xml:"Probe"`
	} `xml:"Body"`
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// discoveryLoop answers Probes for NetworkVideoTransmitter (or with no
// Types) on conn, to the sender's address.
func (d *Device) discoveryLoop(ctx context.Context, conn *net.UDPConn) {
	buf := make([]byte, 65536)
	for ctx.Err() == nil {
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		var p probe
		if xml.Unmarshal(buf[:n], &p) != nil || p.Body.Probe == nil || p.Header.MessageID == "" {
			continue
		}
		if t := strings.Fields(p.Body.Probe.Types); len(t) > 0 && !matchesNVT(t) {
			continue
		}
		d.mu.Lock()
		st := d.storm
		d.mu.Unlock()
		xaddr := "http://" + d.ln.Addr().String() + "/onvif/device_service"
		own := probeMatch(uuid(), p.Header.MessageID, d.cfg.Endpoint, xaddr, d.cfg.Name)
		sent := 0
		send := func(b []byte) {
			_, _ = conn.WriteToUDP(b, from)
			if sent++; st.Pace && sent%2 == 0 {
				time.Sleep(time.Millisecond) // let the receiver keep up (loopback drops bursts)
			}
		}
		send(own)
		for range st.Copies {
			send(own)
		}
		for i := range st.Distinct {
			send(probeMatch(uuid(), p.Header.MessageID, fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i), xaddr, fmt.Sprintf("storm %d", i)))
		}
		for range st.Junk {
			send([]byte(`<?xml version="1.0"?><Envelope><Body><ProbeMatches><ProbeMatch>`))
		}
		for i := range st.Unrelated {
			send(probeMatch(uuid(), "urn:uuid:someone-else", fmt.Sprintf("urn:uuid:11111111-0000-4000-8000-%012d", i), xaddr, "spoofed"))
		}
		d.log.Debug("onviftest: probe answered", "from", from.String(), "storm", st)
	}
}

func matchesNVT(types []string) bool {
	for _, t := range types {
		if i := strings.LastIndexByte(t, ':'); i >= 0 {
			t = t[i+1:]
		}
		if t == "NetworkVideoTransmitter" || t == "Device" {
			return true
		}
	}
	return false
}
