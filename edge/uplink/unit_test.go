package uplink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink/outbox"
	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/storage/keys"
)

// R19: the camera-id key is created once (0600), reused, and gives stable,
// opaque, per-device ids. R32 (issue 13): it is sealed at rest under the
// vault: the file holds neither the key nor anything that opens without
// the device's vault.
func TestKeyAndOpaqueIDs(t *testing.T) {
	dir := t.TempDir()
	v := testVault(t, dir)
	k1, err := LoadOrCreateKey(KeyPath(dir), v)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(KeyPath(dir))
	if err != nil || fi.Mode().Perm() != 0o600 || len(k1) != KeySize {
		t.Fatalf("key file %v %v", fi.Mode(), err)
	}
	raw, _ := os.ReadFile(KeyPath(dir))
	if bytes.Contains(raw, k1) || !keys.IsSealed(raw) {
		t.Fatalf("camera-id key at rest is not sealed: %x", raw)
	}
	k2, err := LoadOrCreateKey(KeyPath(dir), v)
	if err != nil || string(k1) != string(k2) {
		t.Fatal("key not reused")
	}
	other, _ := LoadOrCreateKey(KeyPath(t.TempDir()), v)
	a, b := OpaqueID(k1, "front-door"), OpaqueID(other, "front-door")
	if a == b || !hex16.MatchString(a) || a != OpaqueID(k1, "front-door") || a == OpaqueID(k1, "front-door2") {
		t.Fatalf("opaque ids %s %s", a, b)
	}
	if err := os.WriteFile(KeyPath(dir), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(KeyPath(dir), v); err == nil {
		t.Fatal("a short key must be refused")
	}
}

// R32, R19 (issue 13): a plain key of older firmware is sealed in place at
// the next load, and stays the same key (the opaque ids upstream do not
// change); a key sealed under another device's vault is an error and is
// left as it is.
func TestKeyPlainMigratedAndForeignRefused(t *testing.T) {
	dir := t.TempDir()
	v := testVault(t, dir)
	plain := bytes.Repeat([]byte{0x5a}, KeySize)
	if err := os.MkdirAll(filepath.Dir(KeyPath(dir)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(KeyPath(dir), plain, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadOrCreateKey(KeyPath(dir), v)
	if err != nil || !bytes.Equal(k, plain) {
		t.Fatalf("plain key not kept: %x %v", k, err)
	}
	raw, _ := os.ReadFile(KeyPath(dir))
	if bytes.Contains(raw, plain) || !keys.IsSealed(raw) {
		t.Fatal("plain key not sealed in place")
	}
	if k, err := LoadOrCreateKey(KeyPath(dir), v); err != nil || !bytes.Equal(k, plain) {
		t.Fatalf("sealed key reloads as %x, %v", k, err)
	}

	foreign := testVault(t, t.TempDir()) // same test root, another vault key: another device
	if _, err := LoadOrCreateKey(KeyPath(dir), foreign); err == nil || !errors.Is(err, keys.ErrWrongKey) {
		t.Fatalf("another device's vault: %v, want ErrWrongKey", err)
	}
	if after, _ := os.ReadFile(KeyPath(dir)); !bytes.Equal(after, raw) {
		t.Fatal("the key sealed under another vault was overwritten")
	}
}

func newOffline(t *testing.T, tr *health.Tracker, now func() time.Time) *Uplink {
	t.Helper()
	u, err := New(Config{
		Broker: "mqtts://127.0.0.1:1", DeviceID: "gw-u", Firmware: "1.0", OutboxPath: filepath.Join(t.TempDir(), "o.db"),
		IDKey: testKey(),
	}, Deps{Health: tr, Board: fixedBoard, Now: now, AuditHead: auditHead})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func queued(t *testing.T, u *Uplink) []wire.Message {
	t.Helper()
	rs, err := u.ob.Next(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []wire.Message
	for _, r := range rs {
		m, err := wire.Decode(r.Kind, r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	u.ob.Release()
	return out
}

// R24, R7, R10: health changes become events with opaque camera ids.
func TestWatcherEvents(t *testing.T) {
	clock := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	tr := fakeHealth(now)
	u := newOffline(t, tr, now)
	w := newWatcher(u)
	w.baseline(tr.Snapshot())
	tr.UpdateCamera("lobby-east", func(c *health.Camera) { c.State = health.StateLost })
	tr.UpdateCamera("front-door", func(c *health.Camera) { c.Image = health.ImageBlack })
	tr.SetStorage(health.Storage{Horizon: 40 * 24 * time.Hour, HorizonFloor: 30 * 24 * time.Hour, LastWriteErr: "EIO"})
	tr.Resolve("horizon")
	tr.Raise("tamper", health.SevCritical, "tamper switch open")
	w.diff(tr.Snapshot())
	tr.UpdateCamera("lobby-east", func(c *health.Camera) { c.State = health.StateRecording })
	w.diff(tr.Snapshot())
	kinds := map[string]*wire.Event{}
	for _, m := range queued(t, u) {
		e := m.(*wire.Event)
		kinds[e.Kind+"/"+e.Code] = e
	}
	for _, want := range []string{"camera.lost/lost", "camera.restored/", "image.health/black", "retention.restored/", "disk.error/write", "alert.resolved/horizon", "alert.raised/tamper"} {
		if kinds[want] == nil {
			t.Errorf("no %s event; got %v", want, kinds)
		}
	}
	if e := kinds["camera.lost/lost"]; e != nil && (e.Camera != OpaqueID(testKey(), "lobby-east") || e.Sev != wire.SevCritical) {
		t.Fatalf("camera.lost %+v", e)
	}
}

// Event and Audit refuse what does not fit the schema; a wipe certificate
// goes as compact JSON.
func TestEventValidation(t *testing.T) {
	tr := fakeHealth(time.Now)
	u := newOffline(t, tr, nil)
	ctx := context.Background()
	for _, e := range []Event{{Kind: "video.frame"}, {Kind: EventTamper, Code: "Has Spaces"}, {Kind: "outbox.overflow"},
		{Kind: EventTamper, Detail: []byte(`{"a":1}`)}, {Kind: EventWipeCertificate, Detail: []byte("not json")}} {
		if err := u.Event(ctx, e); err == nil {
			t.Errorf("%+v accepted", e)
		}
	}
	// R19: an actor that is not a device-generated id is not refused but
	// sent as its keyed hash (checked below).
	if err := u.Audit(ctx, AuditRecord{Seq: 1, Actor: "u 1", Action: "login"}); err != nil {
		t.Errorf("actor with a space: %v", err)
	}
	if ms := queued(t, u); ms[len(ms)-1].(*wire.Audit).Actor != HashedPrefix+OpaqueID(testKey(), "u 1") {
		t.Errorf("actor with a space sent as %q", ms[len(ms)-1].(*wire.Audit).Actor)
	}
	if err := u.Audit(ctx, AuditRecord{Seq: 1, Actor: "u1", Action: "Login!"}); err == nil {
		t.Error("bad action accepted")
	}
	cert := []byte("{\n  \"device\": \"gw-u\",\n  \"sig\": \"abcd\"\n}\n")
	if err := u.Event(ctx, Event{Kind: EventWipeCertificate, Detail: cert}); err != nil {
		t.Fatal(err)
	}
	ms := queued(t, u)
	if e := ms[len(ms)-1].(*wire.Event); e.Detail != `{"device":"gw-u","sig":"abcd"}` || e.Sev != wire.SevInfo {
		t.Fatalf("wipe certificate event %+v", e)
	}
}

// Performance (report): bytes per beacon for 8 cameras and CPU per beacon
// (build + encode + durable append), extrapolated to an hour of 60 s beacons.
func TestBeaconCost(t *testing.T) {
	tr := fakeHealth(time.Now)
	u := newOffline(t, tr, nil)
	b := u.buildBeacon(tr.Snapshot(), fixedBoard(), outbox.Stats{})
	b.Seq = 1 << 40
	p, err := wire.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("beacon, 8 cameras, 2 alerts: %d bytes (R23 budget < 1 KiB)", len(p))
	if len(p) >= 1024 {
		t.Fatalf("beacon is %d bytes", len(p))
	}
	const n = 200
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0, w0 := cpu(), time.Now()
	for range n {
		u.enqueueBeacon()
	}
	perBeacon := (cpu() - c0) / n
	t.Logf("per beacon: %s CPU, %s wall (build, encode, fsynced append); 60 beacons/hour ≈ %s CPU per hour (plus TLS/MQTT publish)",
		perBeacon, time.Since(w0)/n, perBeacon*60)
	if st := u.OutboxStats(); st.Count != 1 {
		t.Fatalf("beacons did not coalesce: %d queued", st.Count)
	}
}

// Issue 13, R23: the beacon says where the root key lives ("kp"), and the
// file provider's standing warning goes up as its alert code (never its
// text, D6). A malformed provider name is left out; the beacon still goes.
func TestBeaconKeyProvider(t *testing.T) {
	const warn = "keys on disk: not protected against theft of the disk"
	for _, tc := range []struct {
		name, want string
		alert      bool
	}{{"file", "file", true}, {"tpm2", "tpm2", false}, {"rpi-otp", "rpi-otp", false}, {"", "", false}, {"TPM 2.0!", "", false}} {
		tr := health.NewTracker("gw-u", "1.0", nil)
		kp := health.KeyProvider{Name: tc.name}
		if tc.alert {
			kp.Warning = warn
		}
		tr.SetKeyProvider(kp)
		u := newOffline(t, tr, nil)
		u.enqueueBeacon()
		ms := queued(t, u)
		if len(ms) != 1 {
			t.Fatalf("%q: %d messages queued", tc.name, len(ms))
		}
		b := ms[0].(*wire.Beacon)
		if b.KeyProvider != tc.want {
			t.Fatalf("%q: kp %q, want %q", tc.name, b.KeyProvider, tc.want)
		}
		found := false
		for _, a := range b.Alerts {
			if a.Code == health.AlertKeysOnDisk && a.Sev == wire.SevWarning {
				found = true
			}
		}
		if found != tc.alert {
			t.Fatalf("%q: keys.on_disk alert %v, want %v: %+v", tc.name, found, tc.alert, b.Alerts)
		}
		raw, err := wire.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "theft") {
			t.Fatalf("%q: the alert text went upstream", tc.name)
		}
	}
	// The gate refuses a beacon with a provider outside the schema.
	b := wire.Beacon{V: wire.Version, Device: "gw-u", Boot: "0123456789abcdef", KeyProvider: "Has Space"}
	if _, err := wire.Marshal(&b); !errors.Is(err, wire.ErrInvalid) {
		t.Fatalf("bad kp: %v", err)
	}
}

// R23: the uplink reads no board file itself (issue 15: hal/board owns
// them, wired by cmd/edgerec). Without a BoardReader every figure is
// unknown and the clock is reported as unknown, never guessed.
func TestNoBoardReaderIsUnknown(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }
	tr := fakeHealth(now)
	u, err := New(Config{
		Broker: "mqtts://127.0.0.1:1", DeviceID: "gw-u", Firmware: "1.0", OutboxPath: filepath.Join(t.TempDir(), "o.db"),
		IDKey: testKey(),
	}, Deps{Health: tr, Now: now, AuditHead: auditHead})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if c := u.clock(); c != wire.ClockUnknown {
		t.Fatalf("clock %d, want unknown", c)
	}
	b := u.buildBeacon(tr.Snapshot(), u.deps.Board.ReadBoard(), outbox.Stats{})
	if b.TempMilliC != nil || b.Throttled != nil || b.LoadCenti != nil || b.Clock != wire.ClockUnknown {
		t.Fatalf("beacon invents board figures: %+v", b)
	}
	// A reader's figures reach the beacon.
	u.deps.Board = fixedBoard
	if b := u.buildBeacon(tr.Snapshot(), u.deps.Board.ReadBoard(), outbox.Stats{}); b.TempMilliC == nil || *b.TempMilliC != 48312 || b.Clock != wire.ClockSynced {
		t.Fatalf("beacon from a reader: %+v", b)
	}
}

// Issue 17: the beacon carries the device signing public key (dk), so the
// fleet service can pin it; without one configured it is absent.
func TestBeaconDeviceKey(t *testing.T) {
	tr := health.NewTracker("gw-u", "1.0", nil)
	u := newOffline(t, tr, nil)
	pub := make([]byte, 32)
	for i := range pub {
		pub[i] = byte(i)
	}
	u.cfg.DeviceKey = pub
	u.enqueueBeacon()
	ms := queued(t, u)
	if b := ms[len(ms)-1].(*wire.Beacon); b.DeviceKey != "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" {
		t.Fatalf("dk %q", b.DeviceKey)
	}
	u2 := newOffline(t, tr, nil)
	u2.enqueueBeacon()
	if b := queued(t, u2)[0].(*wire.Beacon); b.DeviceKey != "" {
		t.Fatalf("dk without a key: %q", b.DeviceKey)
	}
}

// TestBeaconSystemSlot (issue 16): the system version and root slot of an
// A/B gateway are in the beacon, round trip; bad values are refused at
// configuration.
func TestBeaconSystemSlot(t *testing.T) {
	tr := fakeHealth(time.Now)
	u, err := New(Config{Broker: "mqtts://127.0.0.1:1", DeviceID: "gw-u", Firmware: "1.0", System: "2026.12.2", Slot: "B",
		OutboxPath: filepath.Join(t.TempDir(), "o.db"), IDKey: testKey()}, Deps{Health: tr, Board: fixedBoard, AuditHead: auditHead})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	b := u.buildBeacon(tr.Snapshot(), fixedBoard(), outbox.Stats{})
	p, err := wire.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Decode(wire.KindBeacon, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(*wire.Beacon); got.System != "2026.12.2" || got.Slot != "B" {
		t.Errorf("beacon sys %q slot %q", got.System, got.Slot)
	}
	for _, c := range []Config{{System: "2026 12"}, {Slot: "C"}} {
		c.Broker, c.DeviceID, c.Firmware, c.OutboxPath, c.IDKey = "mqtts://127.0.0.1:1", "gw-u", "1.0", filepath.Join(t.TempDir(), "o.db"), testKey()
		if u2, err := New(c, Deps{Health: tr, Board: fixedBoard, AuditHead: auditHead}); err == nil {
			u2.Close()
			t.Errorf("config %+v accepted", c)
		}
	}
}
