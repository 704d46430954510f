package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ErrStarved: Keepalive stopped feeding the watchdog because the recorder
// stayed unhealthy; the hardware will reboot the box.
var ErrStarved = errors.New("board: watchdog starved on purpose: recorder unhealthy")

// WatchdogConfig configures a Watchdog.
type WatchdogConfig struct {
	Path string // "" = <root>/dev/watchdog
	// Timeout, if set, is requested from the driver (WDIOC_SETTIMEOUT);
	// a driver (or test file) that refuses keeps its own timeout.
	Timeout time.Duration
	// Interval between keepalives (default 5 s); must be well below the
	// hardware timeout (15 s on the Pi by default).
	Interval time.Duration
	// Grace is how long healthy() may be false before feeding stops
	// (default 30 s): a short stall (a camera restarting) does not reboot.
	Grace time.Duration
	// Logger; nil = discard.
	Logger *slog.Logger
	// Tick drives Keepalive in tests; the times it sends are "now" (nil =
	// an Interval ticker).
	Tick <-chan time.Time
}

// Watchdog is an open hardware watchdog device. Opening it arms it: from
// then on it must be fed or the box reboots.
type Watchdog struct {
	f   *os.File
	cfg WatchdogConfig
	log *slog.Logger
}

// OpenWatchdog opens the watchdog device. A board without one returns an
// error wrapping ErrUnknown (the caller notes "no watchdog" and goes on).
func (b *Board) OpenWatchdog(cfg WatchdogConfig) (*Watchdog, error) {
	if cfg.Path == "" {
		cfg.Path = filepath.Join(b.root, "dev/watchdog")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	w := &Watchdog{cfg: cfg, log: cfg.Logger}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no watchdog at %s", ErrUnknown, cfg.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("board: watchdog: %w", err)
	}
	w.f = f
	if cfg.Timeout > 0 {
		if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.WDIOC_SETTIMEOUT, int(cfg.Timeout/time.Second)); err != nil {
			w.log.Info("watchdog keeps its own timeout", "err", err)
		}
	}
	return w, nil
}

func (w *Watchdog) feed() error {
	if _, err := w.f.Write([]byte{'.'}); err != nil {
		return fmt.Errorf("board: watchdog keepalive: %w", err)
	}
	return nil
}

// Keepalive feeds the watchdog every Interval while healthy() is true (or
// has been false for less than Grace). When ctx is cancelled it stops the
// watchdog cleanly (the magic 'V', then close) and returns nil. When the
// recorder stays unhealthy for Grace it stops feeding, closes the device
// without the magic character (the timer keeps running, so the hardware
// reboots the box) and returns ErrStarved. A healthy() that recovers
// within Grace resets the count.
func (w *Watchdog) Keepalive(ctx context.Context, healthy func() bool) error {
	tick := w.cfg.Tick
	if tick == nil {
		t := time.NewTicker(w.cfg.Interval)
		defer t.Stop()
		tick = t.C
	}
	var badSince time.Time
	if err := w.feed(); err != nil {
		return err
	}
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return w.Stop()
		case now = <-tick:
		}
		if healthy() {
			badSince = time.Time{}
		} else if badSince.IsZero() {
			badSince = now
			w.log.Warn("recorder unhealthy; watchdog will reboot the box unless it recovers", "grace", w.cfg.Grace)
		}
		if !badSince.IsZero() && now.Sub(badSince) >= w.cfg.Grace {
			w.log.Error("recorder unhealthy for too long: no more watchdog keepalives, the box will reboot", "since", badSince)
			w.f.Close() // no magic close: the timer keeps running
			return fmt.Errorf("%w since %s", ErrStarved, badSince.Format(time.RFC3339))
		}
		if err := w.feed(); err != nil {
			return err
		}
	}
}

// Stop disarms the watchdog with the magic close ('V', then close); for a
// clean shutdown only.
func (w *Watchdog) Stop() error {
	_, err := w.f.Write([]byte{'V'})
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("board: watchdog stop: %w", err)
	}
	return nil
}
