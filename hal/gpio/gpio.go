package gpio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// Pins names the pins (periph names, e.g. "GPIO17"); "" = not wired.
type Pins struct {
	StatusLED  string
	Tamper     string
	WipeButton string
	// TamperOpenHigh: the switch reads High when the enclosure is open
	// (default: Low when open, i.e. a normally-closed switch to ground
	// with the internal pull-up: a cut wire reads as open).
	TamperOpenHigh bool
	// ButtonActiveHigh: the button reads High when pressed (default: Low,
	// a button to ground with the internal pull-up).
	ButtonActiveHigh bool
}

// Level is the health level shown by the LED.
type Level int

// Levels, in increasing severity; Wiping overrides everything.
const (
	LevelOK Level = iota
	LevelDegraded
	LevelFault
	LevelWiping
)

func (l Level) String() string {
	switch l {
	case LevelOK:
		return "ok"
	case LevelDegraded:
		return "degraded"
	case LevelFault:
		return "fault"
	case LevelWiping:
		return "wiping"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// Patterns: alternating on/off durations starting with on; nil = steady on.
var patterns = map[Level][]time.Duration{
	LevelOK:       nil,
	LevelDegraded: {time.Second, time.Second},
	LevelFault:    {100 * time.Millisecond, 100 * time.Millisecond},
	LevelWiping:   {100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 700 * time.Millisecond},
}

// LEDOn reports whether the LED is lit at elapsed time e into the pattern
// of level l.
func LEDOn(l Level, e time.Duration) bool {
	p, ok := patterns[l]
	if !ok {
		p = patterns[LevelFault]
	}
	if len(p) == 0 {
		return true
	}
	var period time.Duration
	for _, d := range p {
		period += d
	}
	e %= period
	for i, d := range p {
		if e < d {
			return i%2 == 0
		}
		e -= d
	}
	return false
}

// WipeHold is how long the wipe button must be held to arm the wipe.
const WipeHold = 10 * time.Second

// Tick is the sampling period of Run.
const Tick = 50 * time.Millisecond

// ErrPin: a configured pin cannot be used.
var ErrPin = errors.New("gpio: pin")

// Deps are GPIO's collaborators; all optional.
type Deps struct {
	Logger      *slog.Logger
	Health      func() Level      // nil = the level last given to SetLevel (LevelOK at first)
	OnTamper    func(opened bool) // enclosure opened (true) or closed (false)
	OnWipeArmed func()            // wipe button held for WipeHold

	// Lookup finds a pin by name; nil = periph's host.Init and
	// gpioreg.ByName. It returns nil for an unknown pin.
	Lookup func(name string) (gpio.PinIO, error)
	// Now and Tick drive Run; nil = time.Now and a Tick ticker.
	Now  func() time.Time
	Tick <-chan time.Time
}

// GPIO is the front panel.
type GPIO struct {
	cfg  Pins
	deps Deps
	log  *slog.Logger
	note string

	led, tamper, button gpio.PinIO

	shown atomic.Int32 // SetLevel's level, read when Deps.Health is nil

	mu        sync.Mutex
	level     Level
	since     time.Time // start of the current LED pattern
	ledOn     bool
	ledSet    bool
	tamperLvl gpio.Level // debounced
	tamperCnt int        // samples the raw level differed from tamperLvl
	tamperOK  bool       // tamperLvl known
	pressedAt time.Time  // zero = not pressed
	armed     bool       // armed during this press
}

func defaultLookup(name string) (gpio.PinIO, error) {
	if _, err := host.Init(); err != nil {
		return nil, err
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, nil
	}
	return p, nil
}

// New opens the configured pins. A machine without GPIO (or none of the
// named pins) is not an error: Available is false and Note says why. A pin
// that exists but cannot be configured is an error wrapping ErrPin.
func New(cfg Pins, deps Deps) (*GPIO, error) {
	g := &GPIO{cfg: cfg, deps: deps, log: deps.Logger}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.deps.Now == nil {
		g.deps.Now = time.Now
	}
	if cfg.StatusLED == "" && cfg.Tamper == "" && cfg.WipeButton == "" {
		g.note = "no GPIO pins configured"
		return g, nil
	}
	lookup := deps.Lookup
	if lookup == nil {
		lookup = defaultLookup
	}
	var missing []string
	open := func(name string) (gpio.PinIO, error) {
		if name == "" {
			return nil, nil
		}
		p, err := lookup(name)
		if err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrPin, name, err)
		}
		if p == nil {
			missing = append(missing, name)
		}
		return p, nil
	}
	var err error
	if g.led, err = open(cfg.StatusLED); err != nil {
		return nil, err
	}
	if g.tamper, err = open(cfg.Tamper); err != nil {
		return nil, err
	}
	if g.button, err = open(cfg.WipeButton); err != nil {
		return nil, err
	}
	if g.led == nil && g.tamper == nil && g.button == nil {
		g.note = "no GPIO on this machine (pins " + strings.Join(missing, ", ") + " not found)"
		g.log.Info("no GPIO", "note", g.note)
		return g, nil
	}
	if len(missing) > 0 {
		g.note = "pins not found: " + strings.Join(missing, ", ")
		g.log.Warn("some GPIO pins not found", "pins", missing)
	}
	pull := func(activeHigh bool) gpio.Pull {
		if activeHigh {
			return gpio.PullDown
		}
		return gpio.PullUp
	}
	if g.tamper != nil {
		if err := g.tamper.In(pull(cfg.TamperOpenHigh), gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("%w %s: input: %w", ErrPin, cfg.Tamper, err)
		}
	}
	if g.button != nil {
		if err := g.button.In(pull(cfg.ButtonActiveHigh), gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("%w %s: input: %w", ErrPin, cfg.WipeButton, err)
		}
	}
	if g.led != nil {
		if err := g.led.Out(gpio.Low); err != nil {
			return nil, fmt.Errorf("%w %s: output: %w", ErrPin, cfg.StatusLED, err)
		}
	}
	g.level = -1
	return g, nil
}

// SetLevel sets the health level the LED shows from the next sample on
// (when Deps.Health is nil). It never blocks; safe for concurrent use.
func (g *GPIO) SetLevel(l Level) { g.shown.Store(int32(l)) }

// Available reports whether any pin is in use.
func (g *GPIO) Available() bool { return g.led != nil || g.tamper != nil || g.button != nil }

// Note explains a missing or partial GPIO ("" when every pin was found).
func (g *GPIO) Note() string { return g.note }

// TamperOpen reports the debounced tamper state (false if unknown).
func (g *GPIO) TamperOpen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tamperOK && g.isOpen(g.tamperLvl)
}

func (g *GPIO) isOpen(l gpio.Level) bool { return l == gpio.Level(g.cfg.TamperOpenHigh) }

// Run samples and drives the pins every Tick until ctx is cancelled; it
// then switches the LED off. Without GPIO it just waits.
func (g *GPIO) Run(ctx context.Context) error {
	if !g.Available() {
		<-ctx.Done()
		return nil
	}
	tick := g.deps.Tick
	if tick == nil {
		t := time.NewTicker(Tick)
		defer t.Stop()
		tick = t.C
	}
	defer func() {
		if g.led != nil {
			_ = g.led.Out(gpio.Low)
		}
	}()
	g.step(g.deps.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			g.step(g.deps.Now())
		}
	}
}

// step samples the inputs and updates the LED at time now.
func (g *GPIO) step(now time.Time) {
	var tamperEvt *bool
	armed := false
	g.mu.Lock()
	if g.led != nil {
		lvl := Level(g.shown.Load())
		if g.deps.Health != nil {
			lvl = g.deps.Health()
		}
		if lvl != g.level {
			g.level, g.since = lvl, now
		}
		on := LEDOn(lvl, now.Sub(g.since))
		if !g.ledSet || on != g.ledOn {
			if err := g.led.Out(gpio.Level(on)); err != nil {
				g.log.Warn("status LED", "err", err)
			} else {
				g.ledOn, g.ledSet = on, true
			}
		}
	}
	if g.tamper != nil {
		raw := g.tamper.Read()
		switch {
		case !g.tamperOK:
			g.tamperLvl, g.tamperOK = raw, true
			if g.isOpen(raw) {
				v := true
				tamperEvt = &v
			}
		case raw != g.tamperLvl:
			g.tamperCnt++
			if g.tamperCnt >= 2 {
				g.tamperLvl, g.tamperCnt = raw, 0
				v := g.isOpen(raw)
				tamperEvt = &v
			}
		default:
			g.tamperCnt = 0
		}
	}
	if g.button != nil {
		pressed := g.button.Read() == gpio.Level(g.cfg.ButtonActiveHigh)
		switch {
		case !pressed:
			g.pressedAt, g.armed = time.Time{}, false
		case g.pressedAt.IsZero():
			g.pressedAt = now
		case !g.armed && now.Sub(g.pressedAt) >= WipeHold:
			g.armed, armed = true, true
		}
	}
	g.mu.Unlock()
	if tamperEvt != nil {
		g.log.Warn("tamper switch", "opened", *tamperEvt)
		if g.deps.OnTamper != nil {
			g.deps.OnTamper(*tamperEvt)
		}
	}
	if armed {
		g.log.Warn("wipe button held", "for", WipeHold)
		if g.deps.OnWipeArmed != nil {
			g.deps.OnWipeArmed()
		}
	}
}
