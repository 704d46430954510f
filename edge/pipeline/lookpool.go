package pipeline

import (
	"context"
	"sync/atomic"
)

// LookPool bounds how many keyframe looks (a passthrough camera decoding
// one keyframe for image health and its snapshot) run at once across all
// cameras of a gateway. A look runs in a pool slot on its own goroutine,
// never on the camera's read loop, so decoding a 1080p keyframe cannot stall
// reading (issue 14). A camera that finds no free slot tries again at its
// next keyframe; nothing waits for a slot.
//
// Each look creates its decoder and frees it when done: an idle gateway
// holds no decoder memory (a 1080p openh264 decoder keeps ~27 MB).
type LookPool struct {
	slots chan struct{}
	busy  atomic.Uint64 // looks refused because every slot was in use
	done  atomic.Uint64
}

// NewLookPool returns a pool of n slots (n < 1 means 1); the daemon sizes
// it to runtime.NumCPU() and shares it by every camera.
func NewLookPool(n int) *LookPool {
	if n < 1 {
		n = 1
	}
	return &LookPool{slots: make(chan struct{}, n)}
}

// TryGo runs fn on a new goroutine in a free slot and reports true, or
// reports false at once when every slot is busy.
func (p *LookPool) TryGo(fn func()) bool {
	select {
	case p.slots <- struct{}{}:
	default:
		p.busy.Add(1)
		return false
	}
	go func() {
		defer func() { <-p.slots; p.done.Add(1) }()
		fn()
	}()
	return true
}

// Stats returns how many looks ran and how many found the pool full.
func (p *LookPool) Stats() (done, busy uint64) { return p.done.Load(), p.busy.Load() }

// Do runs fn on the caller's goroutine once a slot is free (an on-demand
// snapshot decode), or returns ctx's error if ctx ends first.
func (p *LookPool) Do(ctx context.Context, fn func()) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slots; p.done.Add(1) }()
	fn()
	return nil
}
