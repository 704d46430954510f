package onvif

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBusy: a discovery (or the maximum of set-ups) is already running.
var ErrBusy = errors.New("onvif: busy, try again in a few seconds")

// MaxSetups is how many set-ups may run at once on the gateway.
const MaxSetups = 2

// Finder is what the LAN page's "add camera" uses: discovery and set-up
// with the gateway's clock. Safe for concurrent use: one discovery at a
// time (a second caller gets ErrBusy: one probe per few seconds is enough
// for a LAN and keeps the page from turning the gateway into a multicast
// source), at most MaxSetups set-ups.
type Finder struct {
	Discoverer Discoverer
	// ClockSynced tells whether the gateway's clock may be given to a
	// camera (nil = never set a camera's clock).
	ClockSynced func() bool
	// Options are passed to every Client (tests: WithNow, WithHTTPClient).
	Options []ClientOption
	// SetupTimeout bounds one whole set-up (default 20 s).
	SetupTimeout time.Duration

	discover sync.Mutex
	setups   sync.Mutex
	running  int
}

// Discover probes the LAN once.
func (f *Finder) Discover(ctx context.Context) (DiscoveryResult, error) {
	if !f.discover.TryLock() {
		return DiscoveryResult{}, ErrBusy
	}
	defer f.discover.Unlock()
	return f.Discoverer.Discover(ctx)
}

// Setup reads a picked camera (and sets its clock when asked and synced).
func (f *Finder) Setup(ctx context.Context, req SetupRequest) (SetupResult, error) {
	f.setups.Lock()
	if f.running >= MaxSetups {
		f.setups.Unlock()
		return SetupResult{}, ErrBusy
	}
	f.running++
	f.setups.Unlock()
	defer func() { f.setups.Lock(); f.running--; f.setups.Unlock() }()
	to := f.SetupTimeout
	if to <= 0 {
		to = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	return Setup(ctx, req, f.ClockSynced, f.Options...)
}
