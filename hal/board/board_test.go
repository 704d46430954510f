package board

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func write(t *testing.T, root, p, v string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
}

// R23: a Pi 4 tree: model (NUL-terminated, as the device tree has it), the
// CPU zone picked by type, throttling bits decoded.
func TestR23PiTree(t *testing.T) {
	root := t.TempDir()
	write(t, root, "proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.5\x00")
	write(t, root, "sys/class/thermal/thermal_zone0/type", "gpu-thermal\n")
	write(t, root, "sys/class/thermal/thermal_zone0/temp", "39000\n")
	write(t, root, "sys/class/thermal/thermal_zone1/type", "cpu-thermal\n")
	write(t, root, "sys/class/thermal/thermal_zone1/temp", "61850\n")
	write(t, root, "sys/devices/platform/soc/soc:firmware/get_throttled", "0x50005\n")
	b := New(Config{Root: root}, Deps{})
	if m, err := b.Model(); err != nil || m != "Raspberry Pi 4 Model B Rev 1.5" {
		t.Fatalf("model %q %v", m, err)
	}
	if c, err := b.CPUTempMilliC(); err != nil || c != 61850 {
		t.Fatalf("temp %d %v", c, err)
	}
	th, err := b.Throttled()
	if err != nil || !th.Known || !th.UnderVoltage || !th.Throttled || th.FreqCapped || !th.UnderVoltageOccurred || !th.ThrottledOccurred || !th.Active() {
		t.Fatalf("throttle %+v %v", th, err)
	}
	if s := th.String(); !strings.Contains(s, "under-voltage") || !strings.Contains(s, "throttling occurred") {
		t.Fatalf("throttle string %q", s)
	}
	write(t, root, "sys/devices/platform/soc/soc:firmware/get_throttled", "0\n")
	if th, _ := b.Throttled(); th.String() != "ok" || th.Active() {
		t.Fatalf("no throttling: %v", th)
	}
}

// R23: a PC or container: the model falls back to /sys/firmware, then is
// unknown; no throttling node is "unknown", not an error; no thermal zone
// is ErrUnknown.
func TestR23NonPiTree(t *testing.T) {
	root := t.TempDir()
	b := New(Config{Root: root}, Deps{})
	if _, err := b.Model(); !errors.Is(err, ErrUnknown) {
		t.Fatalf("model: %v", err)
	}
	write(t, root, "sys/firmware/devicetree/base/model", "Raspberry Pi 5 Model B Rev 1.0\x00")
	if m, err := b.Model(); err != nil || m != "Raspberry Pi 5 Model B Rev 1.0" {
		t.Fatalf("fallback model %q %v", m, err)
	}
	if th, err := b.Throttled(); err != nil || th.Known || th.String() != "unknown" {
		t.Fatalf("throttle %+v %v", th, err)
	}
	if _, err := b.CPUTempMilliC(); !errors.Is(err, ErrUnknown) {
		t.Fatalf("temp: %v", err)
	}
	write(t, root, "sys/class/thermal/thermal_zone0/temp", "garbage")
	if _, err := b.CPUTempMilliC(); err == nil || errors.Is(err, ErrUnknown) {
		t.Fatalf("garbage temp: %v", err)
	}
	write(t, root, "sys/devices/platform/soc/soc:firmware/get_throttled", "zz")
	if _, err := b.Throttled(); err == nil {
		t.Fatal("garbage throttle accepted")
	}
}

// R23: clock sync from adjtimex: STA_UNSYNC or TIME_ERROR = unsynced.
func TestR23ClockSync(t *testing.T) {
	for _, c := range []struct {
		state  int
		status int32
		err    error
		want   ClockState
	}{
		{unix.TIME_OK, 0, nil, ClockSynced},
		{unix.TIME_OK, unix.STA_UNSYNC, nil, ClockUnsynced},
		{unix.TIME_ERROR, 0, nil, ClockUnsynced},
		{0, 0, unix.EPERM, ClockUnknown},
	} {
		b := New(Config{}, Deps{Adjtimex: func(tx *unix.Timex) (int, error) { tx.Status = c.status; return c.state, c.err }})
		got, err := b.ClockSync()
		if got != c.want || (err != nil) != (c.err != nil) {
			t.Errorf("state %d status %#x: %v %v, want %v", c.state, c.status, got, err, c.want)
		}
		if b.ClockSynced() != (c.want == ClockSynced) {
			t.Errorf("state %d status %#x: ClockSynced %v", c.state, c.status, b.ClockSynced())
		}
	}
	// The real kernel answers something (no error) on Linux.
	if s, err := New(Config{}, Deps{}).ClockSync(); err != nil {
		t.Logf("real adjtimex: %v", err)
	} else {
		t.Logf("this machine's clock: %s", s)
	}
}

type wdRig struct {
	path string
	now  time.Time
	tick chan time.Time
	w    *Watchdog
}

func newWD(t *testing.T) *wdRig {
	t.Helper()
	root := t.TempDir()
	write(t, root, "dev/watchdog", "")
	r := &wdRig{path: filepath.Join(root, "dev/watchdog"), now: time.Unix(1000, 0), tick: make(chan time.Time)}
	w, err := New(Config{Root: root}, Deps{}).OpenWatchdog(WatchdogConfig{Interval: time.Second, Grace: 10 * time.Second,
		Timeout: 15 * time.Second, Tick: r.tick})
	if err != nil {
		t.Fatal(err)
	}
	r.w = w
	return r
}

func (r *wdRig) content(t *testing.T) string {
	b, err := os.ReadFile(r.path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// R24: the watchdog is fed while healthy, keeps being fed through a short
// stall, and on a clean stop gets the magic 'V'.
func TestR24WatchdogCleanStop(t *testing.T) {
	r := newWD(t)
	var ok atomic.Bool
	ok.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.w.Keepalive(ctx, ok.Load) }()
	for i := 0; i < 3; i++ {
		r.now = r.now.Add(time.Second)
		r.tick <- r.now
	}
	ok.Store(false) // a 5 s stall, shorter than the grace
	for i := 0; i < 5; i++ {
		r.now = r.now.Add(time.Second)
		r.tick <- r.now
	}
	ok.Store(true)
	for i := 0; i < 20; i++ {
		r.now = r.now.Add(time.Second)
		r.tick <- r.now
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := r.content(t); got != strings.Repeat(".", 29)+"V" {
		t.Fatalf("watchdog got %q", got)
	}
}

// R24: a recorder that stays unhealthy for the grace period starves the
// watchdog (no more keepalives, no magic close), so the box reboots.
func TestR24WatchdogStarvesWhenUnhealthy(t *testing.T) {
	r := newWD(t)
	var ok atomic.Bool
	ok.Store(true)
	done := make(chan error, 1)
	go func() { done <- r.w.Keepalive(context.Background(), ok.Load) }()
	r.now = r.now.Add(time.Second)
	r.tick <- r.now
	// Let the healthy tick be fed before the recorder turns unhealthy
	// (otherwise the keepalive may read ok after the Store below and count
	// that tick as the first of the stall).
	for deadline := time.Now().Add(5 * time.Second); len(r.content(t)) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the healthy tick was not fed: %q", r.content(t))
		}
		time.Sleep(time.Millisecond)
	}
	ok.Store(false)
	var err error
	for i := 0; i < 30; i++ {
		r.now = r.now.Add(time.Second)
		select {
		case r.tick <- r.now:
			continue
		case err = <-done:
		}
		break
	}
	if !errors.Is(err, ErrStarved) {
		t.Fatalf("keepalive = %v, want ErrStarved", err)
	}
	got := r.content(t)
	if strings.Contains(got, "V") {
		t.Fatalf("magic close written while starving: %q", got)
	}
	// fed at start, at the healthy tick, then at the 10 ticks of the stall
	// before the grace ran out (0 s .. 9 s), not at 10 s
	if len(got) != 2+10 {
		t.Fatalf("%d keepalives: %q", len(got), got)
	}
}

func TestNoWatchdog(t *testing.T) {
	if _, err := New(Config{Root: t.TempDir()}, Deps{}).OpenWatchdog(WatchdogConfig{}); !errors.Is(err, ErrUnknown) {
		t.Fatalf("err %v", err)
	}
}

// R23: load and memory for the beacon (they were read by edge/uplink
// before issue 15); missing files are unknown, not a crash.
func TestLoadAndMemory(t *testing.T) {
	root := t.TempDir()
	write(t, root, "proc/loadavg", "0.42 0.30 0.25 1/123 4567\n")
	write(t, root, "proc/meminfo", "MemTotal:        3884000 kB\nMemFree:  100 kB\nMemAvailable:    2911000 kB\n")
	b := New(Config{Root: root}, Deps{})
	if l, err := b.LoadAvg1(); err != nil || l != 0.42 {
		t.Fatalf("load %v %v", l, err)
	}
	if m, err := b.Memory(); err != nil || !m.Known || m.TotalKiB != 3884000 || m.AvailableKiB != 2911000 {
		t.Fatalf("memory %+v %v", m, err)
	}
	empty := New(Config{Root: t.TempDir()}, Deps{})
	if _, err := empty.LoadAvg1(); !errors.Is(err, ErrUnknown) {
		t.Fatalf("missing loadavg: %v", err)
	}
	if m, err := empty.Memory(); !errors.Is(err, ErrUnknown) || m.Known {
		t.Fatalf("missing meminfo: %+v %v", m, err)
	}
	write(t, root, "proc/meminfo", "MemTotal: 10 kB\n")
	if _, err := b.Memory(); !errors.Is(err, ErrUnknown) {
		t.Fatalf("meminfo without MemAvailable: %v", err)
	}
}
