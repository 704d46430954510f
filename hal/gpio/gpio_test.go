package gpio

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

type rig struct {
	led, tamper, button *gpiotest.Pin
	g                   *GPIO
	now                 time.Time
	health              atomic.Int32
	tampers             []bool
	armed               int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{
		led:    &gpiotest.Pin{N: "GPIO17", Num: 17},
		tamper: &gpiotest.Pin{N: "GPIO27", Num: 27},
		button: &gpiotest.Pin{N: "GPIO22", Num: 22},
		now:    time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC),
	}
	pins := map[string]gpio.PinIO{"GPIO17": r.led, "GPIO27": r.tamper, "GPIO22": r.button}
	g, err := New(Pins{StatusLED: "GPIO17", Tamper: "GPIO27", WipeButton: "GPIO22"}, Deps{
		Health:      func() Level { return Level(r.health.Load()) },
		OnTamper:    func(open bool) { r.tampers = append(r.tampers, open) },
		OnWipeArmed: func() { r.armed++ },
		Lookup:      func(n string) (gpio.PinIO, error) { return pins[n], nil },
		Now:         func() time.Time { return r.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Available() || g.Note() != "" {
		t.Fatalf("available %v note %q", g.Available(), g.Note())
	}
	// Inputs were configured with pull-ups (active low): idle = High.
	if r.tamper.P != gpio.PullUp || r.button.P != gpio.PullUp {
		t.Fatalf("pulls %v %v", r.tamper.P, r.button.P)
	}
	r.g = g
	return r
}

// advance runs the sampling loop for d in Tick steps.
func (r *rig) advance(d time.Duration) {
	for end := r.now.Add(d); r.now.Before(end); r.now = r.now.Add(Tick) {
		r.g.step(r.now)
	}
}

func (r *rig) ledOn() bool { return r.led.Read() == gpio.High }

// R24: the LED pattern follows the health level: ok steady, degraded slow
// blink, fault fast blink, wiping double blink.
func TestR24LEDFollowsHealth(t *testing.T) {
	r := newRig(t)
	sample := func(d time.Duration) string {
		var b strings.Builder
		for end := r.now.Add(d); r.now.Before(end); r.now = r.now.Add(Tick) {
			r.g.step(r.now)
			if r.ledOn() {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	if s := sample(2 * time.Second); s != strings.Repeat("#", 40) {
		t.Fatalf("ok: %s", s)
	}
	r.health.Store(int32(LevelDegraded))
	if s := sample(4 * time.Second); s != strings.Repeat(strings.Repeat("#", 20)+strings.Repeat(".", 20), 2) {
		t.Fatalf("degraded: %s", s)
	}
	r.health.Store(int32(LevelFault))
	if s := sample(800 * time.Millisecond); s != strings.Repeat("##..", 4) {
		t.Fatalf("fault: %s", s)
	}
	r.health.Store(int32(LevelWiping))
	if s := sample(2 * time.Second); s != strings.Repeat("##..##"+strings.Repeat(".", 14), 2) {
		t.Fatalf("wiping: %s", s)
	}
	r.health.Store(int32(LevelOK))
	if s := sample(time.Second); s != strings.Repeat("#", 20) {
		t.Fatalf("ok again: %s", s)
	}
}

// R24: the tamper switch opening (a debounced edge) calls OnTamper(true)
// once; closing calls OnTamper(false); a 1-sample glitch is ignored.
func TestR24TamperEdge(t *testing.T) {
	r := newRig(t)
	r.advance(time.Second)
	if len(r.tampers) != 0 || r.g.TamperOpen() {
		t.Fatalf("closed enclosure reported %v", r.tampers)
	}
	r.tamper.Out(gpio.Low) // glitch
	r.advance(Tick)
	r.tamper.Out(gpio.High)
	r.advance(time.Second)
	if len(r.tampers) != 0 {
		t.Fatalf("glitch reported: %v", r.tampers)
	}
	r.tamper.Out(gpio.Low) // enclosure opened (NC switch to ground opens)
	r.advance(time.Second)
	if len(r.tampers) != 1 || !r.tampers[0] || !r.g.TamperOpen() {
		t.Fatalf("open: %v", r.tampers)
	}
	r.tamper.Out(gpio.High)
	r.advance(time.Second)
	if len(r.tampers) != 2 || r.tampers[1] {
		t.Fatalf("close: %v", r.tampers)
	}
}

// R24: an enclosure already open at start is reported.
func TestR24TamperOpenAtStart(t *testing.T) {
	r := newRig(t)
	r.tamper.Out(gpio.Low)
	r.advance(Tick)
	if len(r.tampers) != 1 || !r.tampers[0] {
		t.Fatalf("tampers %v", r.tampers)
	}
}

// R25: the wipe button held 10 s arms the wipe (once per press); held 9 s
// it does not; a release restarts the count.
func TestR25WipeButtonHold(t *testing.T) {
	r := newRig(t)
	r.advance(time.Second)
	r.button.Out(gpio.Low) // pressed
	r.advance(9 * time.Second)
	r.button.Out(gpio.High)
	r.advance(time.Second)
	if r.armed != 0 {
		t.Fatal("9 s press armed the wipe")
	}
	r.button.Out(gpio.Low)
	r.advance(5 * time.Second)
	r.button.Out(gpio.High) // released at 5 s
	r.advance(Tick)
	r.button.Out(gpio.Low)
	r.advance(9*time.Second + 900*time.Millisecond)
	if r.armed != 0 {
		t.Fatal("two short presses adding up to 10 s armed the wipe")
	}
	r.advance(200 * time.Millisecond) // now 10.1 s into this press
	if r.armed != 1 {
		t.Fatalf("10 s press: armed %d", r.armed)
	}
	r.advance(20 * time.Second)
	if r.armed != 1 {
		t.Fatalf("armed again while still held: %d", r.armed)
	}
	r.button.Out(gpio.High)
	r.advance(Tick)
	r.button.Out(gpio.Low)
	r.advance(10*time.Second + Tick)
	if r.armed != 2 {
		t.Fatalf("second 10 s press: armed %d", r.armed)
	}
}

// Run drives the loop from the injected ticker and turns the LED off when
// its context ends.
func TestRunWithInjectedTicker(t *testing.T) {
	r := newRig(t)
	tick := make(chan time.Time)
	r.g.deps.Tick = tick
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.g.Run(ctx) }()
	tick <- r.now
	tick <- r.now
	if !r.ledOn() {
		t.Fatal("LED off while healthy")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.ledOn() {
		t.Fatal("LED left on after stop")
	}
}

// On a machine without GPIO: no error, Available false, a clear note, and
// Run returns when cancelled. This test runs the real periph host drivers
// (on a PC or CI container they find no pins).
func TestNoGPIOIsNotAnError(t *testing.T) {
	g, err := New(Pins{StatusLED: "EDGEREC_NO_SUCH_PIN", WipeButton: "EDGEREC_NO_SUCH_PIN2"}, Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if g.Available() || !strings.Contains(g.Note(), "no GPIO") {
		t.Fatalf("available %v, note %q", g.Available(), g.Note())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.Run(ctx); err != nil {
		t.Fatal(err)
	}
	g, err = New(Pins{}, Deps{})
	if err != nil || g.Available() || g.Note() != "no GPIO pins configured" {
		t.Fatalf("no pins: %v %q", err, g.Note())
	}
}

type badPin struct{ *gpiotest.Pin }

func (badPin) In(gpio.Pull, gpio.Edge) error { return errors.New("busy") }

// A pin that exists but cannot be configured is an error.
func TestPinError(t *testing.T) {
	_, err := New(Pins{Tamper: "GPIO27"}, Deps{Lookup: func(string) (gpio.PinIO, error) { return badPin{&gpiotest.Pin{N: "GPIO27"}}, nil }})
	if !errors.Is(err, ErrPin) {
		t.Fatalf("err %v", err)
	}
}

func TestLEDOnPatterns(t *testing.T) {
	if !LEDOn(LevelOK, time.Hour) || !LEDOn(LevelDegraded, 500*time.Millisecond) || LEDOn(LevelDegraded, 1500*time.Millisecond) ||
		LEDOn(LevelWiping, 150*time.Millisecond) || !LEDOn(LevelWiping, 250*time.Millisecond) || LEDOn(LevelWiping, 900*time.Millisecond) {
		t.Fatal("pattern table")
	}
	if !LEDOn(Level(42), 0) { // unknown level blinks like a fault
		t.Fatal("unknown level")
	}
}

// R24: without Deps.Health the LED shows the level pushed with SetLevel
// (edge/health's Panel drives it that way).
func TestR24SetLevel(t *testing.T) {
	led := &gpiotest.Pin{N: "GPIO17", Num: 17}
	now := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	g, err := New(Pins{StatusLED: "GPIO17"}, Deps{
		Lookup: func(string) (gpio.PinIO, error) { return led, nil },
		Now:    func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	sample := func(d time.Duration) string {
		var b strings.Builder
		for end := now.Add(d); now.Before(end); now = now.Add(Tick) {
			g.step(now)
			if led.Read() == gpio.High {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	if s := sample(time.Second); s != strings.Repeat("#", 20) {
		t.Fatalf("ok at first: %s", s)
	}
	g.SetLevel(LevelFault)
	if s := sample(800 * time.Millisecond); s != strings.Repeat("##..", 4) {
		t.Fatalf("fault: %s", s)
	}
	g.SetLevel(LevelOK)
	if s := sample(time.Second); s != strings.Repeat("#", 20) {
		t.Fatalf("ok again: %s", s)
	}
}
