package uplink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

var hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)

func hasAlert(tr *health.Tracker, code string) bool {
	for _, a := range tr.Snapshot().Alerts {
		if a.Code == code {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func statusOf(t *testing.T, m uplinktest.Message) *wire.Status {
	t.Helper()
	s, err := wire.Decode(wire.KindStatus, m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return s.(*wire.Status)
}

// R23, R21, R19, D6: beacons arrive with the documented fields; status is
// retained "online" and becomes "offline" (last will) when the device
// process is SIGKILLed.
func TestBeaconsStatusAndWill(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-1", "edgerec/+/#", false)
	dir := t.TempDir()
	cfg := deviceConfig(b, dir, "gw-a")
	h := startHelper(t, helperSpec{Config: cfg, KeyPath: KeyPath(dir)})
	h.waitLine(t, "QUEUED", 10*time.Second)

	ms := sub.Wait(t, 15*time.Second, "status online and 3 beacons", func(ms []uplinktest.Message) bool {
		n := 0
		for _, m := range ms {
			if strings.HasSuffix(m.Topic, "/beacon") {
				n++
			}
		}
		return n >= 3
	})
	ds := decodeAll(t, ms)
	st := ofKind(ds, wire.KindStatus)
	if len(st) == 0 || st[0].Topic != "edgerec/gw-a/status" || st[0].Msg.(*wire.Status).State != wire.StateOnline {
		t.Fatalf("first status: %+v", st)
	}
	boot := st[0].Msg.(*wire.Status).Boot
	key, err := LoadOrCreateKey(KeyPath(dir), testVault(t, filepath.Dir(KeyPath(dir))))
	if err != nil {
		t.Fatal(err)
	}
	var lastSeq uint64
	for _, d := range ofKind(ds, wire.KindBeacon) {
		bc := d.Msg.(*wire.Beacon)
		if d.Topic != "edgerec/gw-a/beacon" || bc.V != wire.Version || bc.Device != "gw-a" || bc.Boot != boot {
			t.Fatalf("beacon header %+v", bc)
		}
		if bc.Seq <= lastSeq {
			t.Fatalf("beacon seq %d after %d", bc.Seq, lastSeq)
		}
		lastSeq = bc.Seq
		if bc.Interval != 1 || bc.Firmware != "1.2.3" || bc.Clock != wire.ClockSynced || bc.Time == 0 {
			t.Fatalf("beacon basics %+v", bc)
		}
		if bc.TempMilliC == nil || *bc.TempMilliC != 48312 || bc.Throttled == nil || *bc.Throttled != 0x50000 ||
			bc.LoadCenti == nil || *bc.LoadCenti != 73 || bc.MemTotal == nil || bc.MemAvail == nil {
			t.Fatalf("board figures %+v", bc)
		}
		if bc.RingBytes != 64<<30 || bc.UsedBytes != 40<<30 || bc.HorizonS != 25*86400 || bc.FloorS != 30*86400 || bc.Oldest == 0 {
			t.Fatalf("ring figures %+v", bc)
		}
		if bc.AuditSeq != 42 || len(bc.AuditHash) != 64 { // R16
			t.Fatalf("audit head %d %q", bc.AuditSeq, bc.AuditHash)
		}
		if len(bc.Cameras) != 8 || bc.CamsTotal != 8 {
			t.Fatalf("%d cameras", len(bc.Cameras))
		}
		want := map[string]bool{}
		for _, id := range localCams {
			want[OpaqueID(key, id)] = true
		}
		for _, c := range bc.Cameras {
			if !hex16.MatchString(c.ID) || !want[c.ID] { // R19
				t.Fatalf("camera id %q is not the opaque id of a local camera", c.ID)
			}
			if c.State != wire.CamRecording || c.DeciFPS != 150 || c.Kbps != 2048 || c.AgeMs < 0 {
				t.Fatalf("camera %+v", c)
			}
		}
		codes := map[string]string{}
		for _, a := range bc.Alerts {
			codes[a.Code] = a.Camera
		}
		if _, ok := codes["horizon"]; !ok || codes["camera.lost"] != OpaqueID(key, "stairs-b") {
			t.Fatalf("alerts %+v", bc.Alerts)
		}
		for _, id := range localCams { // R19, D6: no local ids, names or alert texts
			if bytes.Contains(d.Payload, []byte(id)) || bytes.Contains(bytes.ToLower(d.Payload), []byte("camera ")) {
				t.Fatalf("beacon leaks %q", id)
			}
		}
		if len(d.Payload) >= 1024 {
			t.Fatalf("beacon for 8 cameras is %d bytes (want < 1 KiB)", len(d.Payload))
		}
	}

	// A console that connects now gets the retained status.
	late := b.Subscribe(t, "ops-late", "edgerec/gw-a/status", false)
	got := late.Wait(t, 5*time.Second, "retained online", func(ms []uplinktest.Message) bool { return len(ms) > 0 })
	if !got[0].Retain || statusOf(t, got[0]).State != wire.StateOnline {
		t.Fatalf("retained status %+v", got[0])
	}

	// SIGKILL: the broker publishes the will.
	h.kill()
	sub.Wait(t, 10*time.Second, "status offline after SIGKILL", func(ms []uplinktest.Message) bool {
		for _, m := range ms {
			if m.Topic == "edgerec/gw-a/status" && statusOf(t, m).State == wire.StateOffline {
				return true
			}
		}
		return false
	})
	later := b.Subscribe(t, "ops-later", "edgerec/gw-a/status", false)
	got = later.Wait(t, 5*time.Second, "retained offline", func(ms []uplinktest.Message) bool { return len(ms) > 0 })
	if !got[0].Retain || statusOf(t, got[0]).State != wire.StateOffline || statusOf(t, got[0]).Boot != boot {
		t.Fatalf("retained status after kill %+v", statusOf(t, got[0]))
	}
}

// R24, R16: broker down for "several minutes" (compressed: the device's
// reconnect backoff is 50–500 ms instead of 1–60 s, so the outage spans many
// failed reconnect cycles in ~4 s) while events and audit records happen;
// the broker comes back and everything arrives, in order, exactly what was
// produced (duplicates only with the same id). Then the broker is stopped
// in the middle of a burst (disconnect mid-publish) and restarted.
func TestOutageDeliversInOrder(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-2", "edgerec/+/#", true)
	tr := fakeHealth(time.Now)
	cfg := deviceConfig(b, t.TempDir(), "gw-b")
	u, _ := startDevice(t, cfg, Deps{Health: tr, Alerts: tr})
	ctx := context.Background()
	n := 0
	produce := func(k int) {
		for range k {
			n++
			if err := u.Event(ctx, testEvent(n)); err != nil {
				t.Fatal(err)
			}
			if err := u.Audit(ctx, testAudit(n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(10)
	sub.Wait(t, 10*time.Second, "the first records", func(ms []uplinktest.Message) bool { e, a := countTags(ms); return e == n && a == n })

	b.Stop()
	outage := time.Now()
	for time.Since(outage) < 4*time.Second {
		produce(5)
		time.Sleep(200 * time.Millisecond)
	}
	if !hasAlert(tr, AlertDown) {
		t.Fatalf("no %s alert after a %s outage: %+v", AlertDown, time.Since(outage).Round(time.Millisecond), tr.Snapshot().Alerts)
	}
	if u.Connected() {
		t.Fatal("connected while the broker is down")
	}
	b.Start()
	start := time.Now()
	sub.Wait(t, 20*time.Second, "everything after the outage", func(ms []uplinktest.Message) bool { e, a := countTags(ms); return e == n && a == n })
	t.Logf("outage backlog: %d events + %d audit records delivered %s after the broker came back", n, n, time.Since(start).Round(time.Millisecond))
	waitFor(t, 5*time.Second, "uplink.down resolved", func() bool { return !hasAlert(tr, AlertDown) })

	// Disconnect mid-publish: stop the broker as soon as the first records
	// of a burst reach the subscriber.
	before, _ := countTags(sub.Messages())
	stopped := make(chan int)
	go func() {
		for {
			if e, _ := countTags(sub.Messages()); e > before+5 {
				b.Stop()
				stopped <- e
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	produce(300)
	e := <-stopped
	t.Logf("broker stopped mid-publish after %d of %d burst events had arrived", e-before, n-before)
	time.Sleep(300 * time.Millisecond)
	b.Start()
	sub.Wait(t, 30*time.Second, "the whole burst", func(ms []uplinktest.Message) bool { e, a := countTags(ms); return e == n && a == n })
	checkDelivered(t, decodeAll(t, sub.Messages()), n, n)
	if st := u.OutboxStats(); st.Count > 1 { // at most the latest beacon
		waitFor(t, 5*time.Second, "outbox drained", func() bool { return u.OutboxStats().Count <= 1 })
	}
}

// R24, R16: SIGKILL the device while the broker is unreachable, restart it:
// the outbox still delivers everything.
func TestKillWhileOfflineThenRestart(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-3", "edgerec/+/#", true)
	b.Stop()
	dir := t.TempDir()
	cfg := deviceConfig(b, dir, "gw-c")
	h := startHelper(t, helperSpec{Config: cfg, KeyPath: KeyPath(dir), Events: 40, Audits: 40})
	h.waitLine(t, "QUEUED", 10*time.Second)
	time.Sleep(300 * time.Millisecond) // a few failed reconnects
	h.kill()

	b.Start()
	h2 := startHelper(t, helperSpec{Config: cfg, KeyPath: KeyPath(dir)})
	h2.waitLine(t, "QUEUED", 10*time.Second)
	sub.Wait(t, 20*time.Second, "everything queued before the kill", func(ms []uplinktest.Message) bool { e, a := countTags(ms); return e == 40 && a == 40 })
	checkDelivered(t, decodeAll(t, sub.Messages()), 40, 40)
	h2.kill()
}

// Bad input: wrong CA, a client certificate the broker refuses, no client
// certificate: clear health alerts, Event still returns at once (recording
// is not held up), and nothing queued meanwhile is lost once the
// configuration is fixed.
func TestTLSRefusals(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-4", "edgerec/+/#", false)
	dir := t.TempDir()
	good := deviceConfig(b, dir, "gw-d")
	tr := fakeHealth(time.Now)
	n := 0
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		alert string
	}{
		{"wrong CA", func(c *Config) { c.CAFile = b.Certs.OtherCA }, AlertTLSCA},
		{"refused client certificate", func(c *Config) { c.CertFile, c.KeyFile = b.Certs.RogueCert, b.Certs.RogueKey }, AlertTLSRefused},
		{"no client certificate", func(c *Config) { c.CertFile, c.KeyFile = "", "" }, AlertTLSRefused},
		{"refused client key from the vault", func(c *Config) {
			c.CertFile, c.KeyFile, c.KeyPEM = b.Certs.RogueCert, "", mustRead(t, b.Certs.RogueKey)
		}, AlertTLSRefused},
	} {
		cfg := good
		tc.edit(&cfg)
		tr.Resolve(tc.alert)
		u, stop := startDevice(t, cfg, Deps{Health: tr, Alerts: tr})
		n++
		t0 := time.Now()
		if err := u.Event(context.Background(), testEvent(n)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d > time.Second {
			t.Fatalf("%s: Event took %s", tc.name, d)
		}
		waitFor(t, 10*time.Second, tc.name+" alert "+tc.alert, func() bool { return hasAlert(tr, tc.alert) })
		for _, a := range tr.Snapshot().Alerts {
			if a.Code == tc.alert {
				t.Logf("%s → %s: %s", tc.name, a.Code, a.Text)
				if a.Severity != health.SevCritical || a.Text == "" {
					t.Fatalf("alert %+v", a)
				}
			}
		}
		stop()
	}
	if e, _ := countTags(sub.Messages()); e != 0 {
		t.Fatalf("%d events got through with a bad TLS setup", e)
	}
	// Fixed configuration: the same outbox delivers everything, alerts
	// clear. The client key comes as bytes (opened from the vault by the
	// daemon, issue 13), not as a file.
	good.KeyFile, good.KeyPEM = "", mustRead(t, b.Certs.ClientKey)
	startDevice(t, good, Deps{Health: tr, Alerts: tr})
	sub.Wait(t, 10*time.Second, "the queued events", func(ms []uplinktest.Message) bool { e, _ := countTags(ms); return e == n })
	waitFor(t, 5*time.Second, "TLS alerts resolved", func() bool { return !hasAlert(tr, AlertTLSCA) && !hasAlert(tr, AlertTLSRefused) })

	both := good
	both.KeyFile = b.Certs.ClientKey
	if _, err := New(both, Deps{Health: tr}); !errors.Is(err, ErrConfig) {
		t.Fatalf("key file and key bytes together: %v", err)
	}
	// Plain TCP is refused unless the config says so.
	bad := good
	bad.Broker = "mqtt://127.0.0.1:1"
	bad.OutboxPath = filepath.Join(t.TempDir(), "o.db")
	if _, err := New(bad, Deps{Health: tr}); !errors.Is(err, ErrConfig) {
		t.Fatalf("plaintext without allow_plaintext: %v", err)
	}
	bad.AllowPlaintext = true
	u, err := New(bad, Deps{Health: tr})
	if err != nil {
		t.Fatalf("plaintext with allow_plaintext: %v", err)
	}
	u.Close()
}

// Bad input: disk full for the outbox. Event reports ErrNotDurable at once,
// a critical health alert says so, and when the disk recovers everything
// held in memory is written and delivered in order.
func TestOutboxDiskFull(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-5", "edgerec/+/#", false)
	tr := fakeHealth(time.Now)
	var full atomic.Bool
	cfg := deviceConfig(b, t.TempDir(), "gw-e")
	u, _ := startDevice(t, cfg, Deps{Health: tr, Alerts: tr, OutboxWriteFault: func() error {
		if full.Load() {
			return errors.New("write outbox.db: no space left on device")
		}
		return nil
	}})
	ctx := context.Background()
	if err := u.Event(ctx, testEvent(1)); err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	for i := 2; i <= 11; i++ {
		t0 := time.Now()
		if err := u.Event(ctx, testEvent(i)); !errors.Is(err, ErrNotDurable) {
			t.Fatalf("event %d on a full disk: %v", i, err)
		}
		if err := u.Audit(ctx, testAudit(i)); !errors.Is(err, ErrNotDurable) {
			t.Fatalf("audit %d on a full disk: %v", i, err)
		}
		if d := time.Since(t0); d > 500*time.Millisecond {
			t.Fatalf("queueing took %s on a full disk", d)
		}
	}
	if !hasAlert(tr, AlertOutbox) {
		t.Fatalf("no %s alert: %+v", AlertOutbox, tr.Snapshot().Alerts)
	}
	full.Store(false)
	waitFor(t, 5*time.Second, "outbox alert resolved", func() bool { return !hasAlert(tr, AlertOutbox) })
	ms := sub.Wait(t, 10*time.Second, "all records", func(ms []uplinktest.Message) bool { e, a := countTags(ms); return e == 11 && a == 10 })
	var ev []decoded
	for _, d := range decodeAll(t, ms) {
		if e, ok := d.Msg.(*wire.Event); ok && e.Kind == EventTamper {
			ev = append(ev, d)
		}
	}
	for i, d := range ev {
		if d.Msg.(*wire.Event).Count != uint64(i+1) {
			t.Fatalf("event %d arrived as #%d", d.Msg.(*wire.Event).Count, i+1)
		}
	}
}

// Performance (report): outbox append rate with the broker down, then the
// end-to-end drain rate to mosquitto over mutual TLS (QoS 1, one message in
// flight, PUBACK before the next).
func TestDrainRate(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-6", "edgerec/+/#", false)
	tr := fakeHealth(time.Now)
	cfg := deviceConfig(b, t.TempDir(), "gw-f")
	u, err := New(cfg, Deps{Health: tr, Board: fixedBoard})
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	ctx := context.Background()
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		if err := u.Event(ctx, testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	appendDur := time.Since(t0)
	u.Close()
	t0 = time.Now()
	startDevice(t, cfg, Deps{Health: tr})
	sub.Wait(t, 30*time.Second, "the backlog", func(ms []uplinktest.Message) bool { e, _ := countTags(ms); return e == n })
	drainDur := time.Since(t0)
	t.Logf("outbox append: %d events in %s = %.0f msg/s (each fsynced); drain over TLS to mosquitto incl. connect: %s = %.0f msg/s",
		n, appendDur.Round(time.Millisecond), n/appendDur.Seconds(), drainDur.Round(time.Millisecond), n/drainDur.Seconds())
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
