package fleetd

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/fleetd/fleetsim"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

func brokerOpts(b *uplinktest.Broker) mqttc.Options {
	return mqttc.Options{Broker: b.URL(), CAFile: b.Certs.CA, CertFile: b.Certs.ClientCert, KeyFile: b.Certs.ClientKey}
}

// startService runs a service on the broker until the test ends.
func startService(t *testing.T, b *uplinktest.Broker, cfg Config) *Service {
	t.Helper()
	cfg.MQTT = brokerOpts(b)
	s, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !s.connected.Load() {
		if time.Now().After(deadline) {
			t.Fatal("service did not subscribe")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue 17: two instances in one share group on one mosquitto split the
// fleet and together handle every beacon, event and audit record exactly
// once (statuses reach both: they come retained through the plain
// subscription). With --shards 2 each gateway lives in exactly one of them
// (mosquitto deals messages round robin; the other instance forwards), so
// every audit stream is whole where it is checked.
func TestTwoInstancesShareTheFleet(t *testing.T) {
	b := uplinktest.StartBroker(t)
	s1 := startService(t, b, Config{Share: "ops", Shards: 2, Shard: 0})
	s2 := startService(t, b, Config{Share: "ops", Shards: 2, Shard: 1})
	gws := fleetsim.Fleet("edgerec", 40, 4)
	st, err := fleetsim.Play(context.Background(), fleetsim.LoadConfig{
		MQTT: brokerOpts(b), Rounds: 5, AuditPerRound: 2, EventEvery: 2, Conns: 2, Inflight: 4, Status: true,
	}, gws)
	if err != nil || st.Errors != 0 {
		t.Fatalf("play: %v %s", err, st)
	}
	want := st.Published[wire.KindBeacon] + st.Published[wire.KindEvent] + st.Published[wire.KindAudit]
	got := func() (uint64, uint64, uint64) {
		var a, b uint64
		for _, k := range []wire.Kind{wire.KindBeacon, wire.KindEvent, wire.KindAudit} {
			a += s1.msgs[k].Load()
			b += s2.msgs[k].Load()
		}
		return a + b, a, b
	}
	waitFor(t, "every message", func() (ok bool) { n, _, _ := got(); return n >= want })
	time.Sleep(300 * time.Millisecond) // and no more
	n, a, bb := got()
	if n != want || a == 0 || bb == 0 {
		t.Fatalf("instances saw %d + %d = %d messages, want %d once (%s)", a, bb, n, want, st)
	}
	seen := map[string]int{}
	for _, s := range []*Service{s1, s2} {
		for _, g := range s.Snapshot() {
			seen[g.Device]++
			if g.Audit.GapRecords() != 0 || len(g.Audit.Breaks) != 0 || g.Audit.Received != 10 || g.Beacons != 5 {
				t.Errorf("%s: %d beacons, audit %+v", g.Device, g.Beacons, g.Audit)
			}
		}
	}
	for _, g := range gws {
		if seen[g.Device] != 1 {
			t.Errorf("%s kept by %d instances", g.Device, seen[g.Device])
		}
	}
	t.Logf("published %s; instance 1 handled %d (forwarded %d), instance 2 handled %d (forwarded %d)", st, a, s1.forwarded.Load(), bb, s2.forwarded.Load())
}

// Issue 17 (CI): over the real broker, a gateway whose audit stream stalls
// while its beacons go on shows the audit gap with its range; the other
// gateways stay whole.
func TestAuditGapOverBroker(t *testing.T) {
	b := uplinktest.StartBroker(t)
	s := startService(t, b, Config{})
	gws := fleetsim.Fleet("edgerec", 5, 2)
	var mu sync.Mutex
	_, err := fleetsim.Play(context.Background(), fleetsim.LoadConfig{
		MQTT: brokerOpts(b), Rounds: 6, AuditPerRound: 3, Conns: 1, Inflight: 2,
		Hook: func(round int, g *fleetsim.Gateway) {
			mu.Lock()
			defer mu.Unlock()
			if g.Device == "gw-00003" && round == 2 {
				g.StallAudit = true
			}
		},
	}, gws)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the last beacons", func() bool {
		for _, g := range gws {
			if gw, ok := s.Gateway(g.Device); !ok || gw.Beacons < 6 {
				return false
			}
		}
		return true
	})
	for _, g := range gws {
		gw, _ := s.Gateway(g.Device)
		if g.Device == "gw-00003" {
			// Rounds 0-1 sent seq 1-6; rounds 2-5 built 7-18 and sent none.
			if m := gw.Audit.Missing(); len(m) != 1 || m[0] != (Range{7, 18}) {
				t.Fatalf("stalled gateway: missing %+v (%+v)", m, gw.Audit)
			}
			continue
		}
		if gw.Audit.GapRecords() != 0 || len(gw.Audit.Breaks) != 0 || gw.Audit.High != 18 {
			t.Fatalf("%s: %+v", g.Device, gw.Audit)
		}
	}
}
