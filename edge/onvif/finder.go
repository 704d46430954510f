package onvif

import (
	"context"
	"time"
)

// Finder is what the LAN page's "add camera" uses: discovery and set-up
// with the gateway's clock. Safe for concurrent use (each call has its own
// socket or client).
type Finder struct {
	Discoverer Discoverer
	// ClockSynced tells whether the gateway's clock may be given to a
	// camera (nil = never set a camera's clock).
	ClockSynced func() bool
	// Options are passed to every Client (tests: WithNow, WithHTTPClient).
	Options []ClientOption
	// SetupTimeout bounds one whole set-up (default 20 s).
	SetupTimeout time.Duration
}

// Discover probes the LAN once.
func (f *Finder) Discover(ctx context.Context) (DiscoveryResult, error) {
	return f.Discoverer.Discover(ctx)
}

// Setup reads a picked camera (and sets its clock when asked and synced).
func (f *Finder) Setup(ctx context.Context, req SetupRequest) (SetupResult, error) {
	to := f.SetupTimeout
	if to <= 0 {
		to = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	return Setup(ctx, req, f.ClockSynced, f.Options...)
}
