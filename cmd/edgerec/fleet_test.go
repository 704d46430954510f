package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

type fleetBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (f *fleetBuf) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.b.Write(p)
}

func (f *fleetBuf) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.b.String()
}

// fleetGateways starts two simulated gateways on the rig: gw-live, a real
// uplink beaconing every second, and gw-silent, which says it is online,
// sends one beacon (interval 1 s) and then stays connected but silent.
func fleetGateways(t *testing.T, b *uplinktest.Broker) {
	t.Helper()
	tr := health.NewTracker("gw-live", "1.0.0", nil)
	tr.SetCamera(health.Camera{ID: "door", State: health.StateRecording, FPS: 15})
	tr.SetCamera(health.Camera{ID: "yard", State: health.StateLost})
	u, err := uplink.New(uplink.Config{
		Broker: b.URL(), CAFile: b.Certs.CA, CertFile: b.Certs.ClientCert, KeyFile: b.Certs.ClientKey,
		DeviceID: "gw-live", Firmware: "1.0.0", BeaconInterval: time.Second,
		OutboxPath: filepath.Join(t.TempDir(), "outbox.db"), IDKey: make([]byte, uplink.KeySize),
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
	}, uplink.Deps{Health: tr, Alerts: tr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = u.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	o := b.ClientOptions("edgerec-gw-silent")
	cli, _, err := mqttc.Connect(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Disconnect(&paho.Disconnect{}) })
	pub := func(kind wire.Kind, m wire.Message, retain bool) {
		p, err := wire.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Publish(context.Background(), &paho.Publish{QoS: 1, Retain: retain, Topic: "edgerec/gw-silent/" + kind.Topic(), Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UnixMilli()
	pub(wire.KindStatus, &wire.Status{V: 1, Device: "gw-silent", Boot: "00112233aabbccdd", State: wire.StateOnline, Time: now, Firmware: "1.0.0", Interval: 1}, true)
	pub(wire.KindBeacon, &wire.Beacon{V: 1, Device: "gw-silent", Boot: "00112233aabbccdd", Seq: 1, Time: now, Firmware: "1.0.0", Interval: 1,
		Cameras: []wire.BeaconCamera{{ID: "0123456789abcdef", State: wire.CamRecording}}, CamsTotal: 1}, false)
}

func runFleet(t *testing.T, timeout time.Duration, until func(out string) bool, args ...string) (string, error) {
	t.Helper()
	out := &fleetBuf{}
	e := &env{stdout: out, stderr: out, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- cmdFleet(ctx, e, args) }()
	for {
		select {
		case err := <-errc:
			return out.String(), err
		case <-time.After(50 * time.Millisecond):
			if until(out.String()) {
				cancel()
				return out.String(), <-errc
			}
		}
	}
}

// The fleet command shows two simulated gateways and flags the silent one
// (R23: central ops see beacons; a gateway whose beacons stop is flagged).
func TestFleetFlagsSilentGateway(t *testing.T) {
	b := uplinktest.StartBroker(t)
	fleetGateways(t, b)
	tls := []string{"--broker", b.URL(), "--ca", b.Certs.CA, "--cert", b.Certs.ClientCert, "--key", b.Certs.ClientKey}

	// --json: machine-readable lines; wait for gw-silent to be flagged while
	// gw-live keeps beaconing.
	rows := func(out string) map[string]fleetRow {
		m := map[string]fleetRow{}
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l struct {
				Type    string   `json:"type"`
				Gateway fleetRow `json:"gateway"`
			}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("not a JSON line: %q", sc.Text())
			}
			if l.Type == "gateway" {
				m[l.Gateway.Device] = l.Gateway
			}
		}
		return m
	}
	out, err := runFleet(t, 15*time.Second, func(out string) bool {
		r := rows(out)
		return r["gw-silent"].Silent && r["gw-live"].BeaconAge >= 0
	}, append(tls, "--json", "--refresh", "200ms", "--stale", "2")...)
	if err != nil {
		t.Fatalf("fleet --json: %v\n%s", err, out)
	}
	r := rows(out)
	if !r["gw-silent"].Silent || r["gw-live"].Silent || !r["gw-live"].Online {
		t.Fatalf("rows: %+v", r)
	}
	if r["gw-live"].CamsTotal != 2 || r["gw-live"].CamsOK != 1 {
		t.Fatalf("gw-live cameras %d/%d", r["gw-live"].CamsOK, r["gw-live"].CamsTotal)
	}

	// Table: one line per gateway, the silent one flagged.
	out, err = runFleet(t, 10*time.Second, func(out string) bool {
		return strings.Contains(out, "SILENT") && strings.Contains(out, "gw-live")
	}, append(tls, "--refresh", "300ms", "--stale", "2", "--share", "ops")...)
	if err != nil {
		t.Fatalf("fleet table: %v\n%s", err, out)
	}
	var silentLine, liveLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "gw-silent ") && strings.Contains(l, "SILENT") {
			silentLine = l
		}
		if strings.HasPrefix(l, "gw-live ") {
			liveLine = l
		}
	}
	if silentLine == "" || liveLine == "" || strings.Contains(liveLine, "SILENT") {
		t.Fatalf("table:\n%s", out)
	}
	t.Logf("table rows:\n%s\n%s", liveLine, silentLine)
}

type fleetRow struct {
	Device    string  `json:"device"`
	Online    bool    `json:"online"`
	Silent    bool    `json:"silent"`
	BeaconAge float64 `json:"beacon_age_s"`
	CamsOK    int     `json:"cams_ok"`
	CamsTotal int     `json:"cams_total"`
}

func TestFleetUsage(t *testing.T) {
	e := &env{stdout: &fleetBuf{}, stderr: &fleetBuf{}, getenv: func(string) string { return "" }}
	for _, args := range [][]string{
		{},
		{"--broker", "mqtt://127.0.0.1:1883"}, // plain TCP needs --allow-plaintext
		{"--broker", "http://x"},
		{"--broker", "mqtts://127.0.0.1:1", "extra"},
	} {
		if err := cmdFleet(context.Background(), e, args); !errors.As(err, new(usageError)) {
			t.Fatalf("%q: want a usage error, got %v", args, err)
		}
	}
	// Unreadable TLS files fail at once, with one clear error.
	err := cmdFleet(context.Background(), e, []string{"--broker", "mqtts://127.0.0.1:1", "--ca", "/nonexistent/ca.pem"})
	if err == nil || !strings.Contains(err.Error(), "CA") {
		t.Fatalf("missing CA: %v", err)
	}
}
