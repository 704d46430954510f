package web

import (
	"sync"
	"time"
)

// viewCoalesceWindow: a viewer's repeated snapshot views of one camera
// within this window share one audit record (the page refreshes pictures
// every few seconds; R16 wants the view, not every refresh).
const viewCoalesceWindow = 5 * time.Minute

type viewCoalescer struct {
	mu   sync.Mutex
	now  func() time.Time
	last map[[2]string]time.Time
}

func newViewCoalescer(now func() time.Time) *viewCoalescer {
	return &viewCoalescer{now: now, last: make(map[[2]string]time.Time)}
}

// first reports whether this view of camera by user opens a new window.
func (c *viewCoalescer) first(user, camera string) bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	k := [2]string{user, camera}
	if t, ok := c.last[k]; ok && now.Sub(t) < viewCoalesceWindow {
		return false
	}
	if len(c.last) > 4096 {
		for k, t := range c.last {
			if now.Sub(t) >= viewCoalesceWindow {
				delete(c.last, k)
			}
		}
	}
	c.last[k] = now
	return true
}
