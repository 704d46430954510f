package board

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrUnknown: this board does not expose the value.
var ErrUnknown = errors.New("board: unknown on this board")

// Config locates the trees.
type Config struct {
	Root string // "" = "/"
}

// Deps are injectable system calls.
type Deps struct {
	// Adjtimex reads the kernel clock state (nil = unix.Adjtimex).
	Adjtimex func(*unix.Timex) (int, error)
}

// Board reads the board's state.
type Board struct {
	root     string
	adjtimex func(*unix.Timex) (int, error)
}

// New returns a Board for cfg.
func New(cfg Config, deps Deps) *Board {
	b := &Board{root: cfg.Root, adjtimex: deps.Adjtimex}
	if b.root == "" {
		b.root = "/"
	}
	if b.adjtimex == nil {
		b.adjtimex = unix.Adjtimex
	}
	return b
}

func (b *Board) path(p string) string { return filepath.Join(b.root, p) }

func (b *Board) read(p string) ([]byte, error) {
	v, err := os.ReadFile(b.path(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s", ErrUnknown, p)
	}
	if err != nil {
		return nil, fmt.Errorf("board: %w", err)
	}
	return v, nil
}

// Model is the board model from the device tree, e.g. "Raspberry Pi 4
// Model B Rev 1.5" (/proc/device-tree/model, else
// /sys/firmware/devicetree/base/model).
func (b *Board) Model() (string, error) {
	var last error
	for _, p := range []string{"proc/device-tree/model", "sys/firmware/devicetree/base/model"} {
		v, err := b.read(p)
		if err != nil {
			last = err
			continue
		}
		m := strings.TrimSpace(string(bytes.TrimRight(v, "\x00")))
		if m != "" {
			return m, nil
		}
	}
	return "", last
}

// CPUTempMilliC is the CPU temperature in m°C: the thermal zone whose type
// names the CPU or SoC ("cpu-thermal" on a Pi, "x86_pkg_temp", "soc…"),
// else the first zone.
func (b *Board) CPUTempMilliC() (int, error) {
	zones, _ := filepath.Glob(b.path("sys/class/thermal/thermal_zone*"))
	if len(zones) == 0 {
		return 0, fmt.Errorf("%w: no thermal zone", ErrUnknown)
	}
	sort.Slice(zones, func(i, j int) bool { return zoneNum(zones[i]) < zoneNum(zones[j]) })
	pick := zones[0]
	for _, z := range zones {
		t, _ := os.ReadFile(filepath.Join(z, "type"))
		ty := strings.ToLower(strings.TrimSpace(string(t)))
		if strings.Contains(ty, "cpu") || strings.Contains(ty, "soc") || strings.Contains(ty, "pkg") {
			pick = z
			break
		}
	}
	v, err := os.ReadFile(filepath.Join(pick, "temp"))
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrUnknown, filepath.Base(pick), err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(v)))
	if err != nil {
		return 0, fmt.Errorf("board: %s/temp: %q is not a number", filepath.Base(pick), strings.TrimSpace(string(v)))
	}
	return n, nil
}

func zoneNum(p string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(p), "thermal_zone"))
	return n
}

// Throttle decodes the Raspberry Pi firmware's get_throttled bits.
type Throttle struct {
	Known bool   // false: not a Pi, or the firmware node is absent ("unknown")
	Raw   uint32 // the bits as read

	UnderVoltage, FreqCapped, Throttled, SoftTempLimit bool // now
	// Since boot:
	UnderVoltageOccurred, FreqCappedOccurred, ThrottledOccurred, SoftTempLimitOccurred bool
}

// String is "ok", "unknown" or the active and past conditions.
func (t Throttle) String() string {
	if !t.Known {
		return "unknown"
	}
	var s []string
	for _, f := range []struct {
		on   bool
		name string
	}{
		{t.UnderVoltage, "under-voltage"}, {t.FreqCapped, "frequency capped"}, {t.Throttled, "throttled"}, {t.SoftTempLimit, "soft temperature limit"},
		{t.UnderVoltageOccurred, "under-voltage occurred"}, {t.FreqCappedOccurred, "frequency capping occurred"},
		{t.ThrottledOccurred, "throttling occurred"}, {t.SoftTempLimitOccurred, "soft temperature limit occurred"},
	} {
		if f.on {
			s = append(s, f.name)
		}
	}
	if len(s) == 0 {
		return "ok"
	}
	return strings.Join(s, ", ")
}

// Active reports whether a condition is active now.
func (t Throttle) Active() bool {
	return t.UnderVoltage || t.FreqCapped || t.Throttled || t.SoftTempLimit
}

// DecodeThrottle decodes get_throttled bits.
func DecodeThrottle(v uint32) Throttle {
	bit := func(n uint) bool { return v&(1<<n) != 0 }
	return Throttle{Known: true, Raw: v,
		UnderVoltage: bit(0), FreqCapped: bit(1), Throttled: bit(2), SoftTempLimit: bit(3),
		UnderVoltageOccurred: bit(16), FreqCappedOccurred: bit(17), ThrottledOccurred: bit(18), SoftTempLimitOccurred: bit(19)}
}

// Throttled reads /sys/devices/platform/soc/soc:firmware/get_throttled
// (hex, e.g. "0x50005" or "50005"). Absent: Known false and no error.
func (b *Board) Throttled() (Throttle, error) {
	v, err := b.read("sys/devices/platform/soc/soc:firmware/get_throttled")
	if errors.Is(err, ErrUnknown) {
		return Throttle{}, nil
	}
	if err != nil {
		return Throttle{}, err
	}
	s := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(string(v))), "0x")
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return Throttle{}, fmt.Errorf("board: get_throttled: %q is not hex", strings.TrimSpace(string(v)))
	}
	return DecodeThrottle(uint32(n)), nil
}

// LoadAvg1 is the one-minute load average (/proc/loadavg).
func (b *Board) LoadAvg1() (float64, error) {
	v, err := b.read("proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(v))
	if len(f) == 0 {
		return 0, fmt.Errorf("%w: empty proc/loadavg", ErrUnknown)
	}
	l, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("board: proc/loadavg: %q is not a number", f[0])
	}
	return l, nil
}

// Memory is the kernel's memory figures in KiB (/proc/meminfo).
type Memory struct {
	TotalKiB, AvailableKiB uint64
	Known                  bool // both lines were found
}

// Memory reads MemTotal and MemAvailable from /proc/meminfo.
func (b *Board) Memory() (Memory, error) {
	v, err := b.read("proc/meminfo")
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	var total, avail bool
	for _, line := range strings.Split(string(v), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			m.TotalKiB, total = n, true
		case "MemAvailable:":
			m.AvailableKiB, avail = n, true
		}
	}
	m.Known = total && avail
	if !m.Known {
		return m, fmt.Errorf("%w: proc/meminfo without MemTotal and MemAvailable", ErrUnknown)
	}
	return m, nil
}

// ClockState is the kernel's view of the wall clock.
type ClockState int

// Clock states.
const (
	ClockUnknown  ClockState = iota
	ClockUnsynced            // no NTP (or other) discipline yet: a Pi without RTC after boot
	ClockSynced
)

func (c ClockState) String() string {
	switch c {
	case ClockSynced:
		return "synced"
	case ClockUnsynced:
		return "unsynced"
	}
	return "unknown"
}

// ClockSynced reports whether the kernel clock is NTP-synchronized (an
// unknown state is not synced); until it is, segments carry the "clock not
// yet synced" flag (a Pi has no RTC).
func (b *Board) ClockSynced() bool {
	st, err := b.ClockSync()
	return err == nil && st == ClockSynced
}

// ClockSync asks adjtimex: STA_UNSYNC set or the TIME_ERROR state means
// not synchronized.
func (b *Board) ClockSync() (ClockState, error) {
	var tx unix.Timex
	state, err := b.adjtimex(&tx)
	if err != nil {
		return ClockUnknown, fmt.Errorf("board: adjtimex: %w", err)
	}
	if state == unix.TIME_ERROR || tx.Status&unix.STA_UNSYNC != 0 {
		return ClockUnsynced, nil
	}
	return ClockSynced, nil
}
