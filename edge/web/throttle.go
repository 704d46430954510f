package web

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// throttlePolicy is the exponential back-off after failed logins (R22): the
// first free failures cost nothing; each further one locks the key for
// base·2^(n-free), capped at max. A key with no failure for forget starts
// afresh.
type throttlePolicy struct {
	free   int
	base   time.Duration
	max    time.Duration
	forget time.Duration
	// maxKeys bounds memory; the least recently failed key is dropped.
	maxKeys int
}

// Failed logins are counted per address × account (pairThrottlePolicy) and
// per address over all accounts (addrThrottlePolicy, password spraying).
// There is no account-wide lock: it would let anyone on the LAN keep any
// account — the only admin included — locked out (issue 12, R22); an
// address that never failed for an account is never locked for it by
// somebody else's failures. A successful login clears only its own
// address × account key, so a valid account does not wash another
// account's failures away.
func pairThrottlePolicy() throttlePolicy {
	return throttlePolicy{free: 5, base: time.Second, max: 15 * time.Minute, forget: time.Hour, maxKeys: 4096}
}

func addrThrottlePolicy() throttlePolicy {
	return throttlePolicy{free: 20, base: time.Second, max: 15 * time.Minute, forget: time.Hour, maxKeys: 4096}
}

type throttleEntry struct {
	failures int
	last     time.Time
	until    time.Time
}

// throttle counts failed logins per key. It is safe for concurrent use.
type throttle struct {
	mu      sync.Mutex
	policy  throttlePolicy
	now     func() time.Time
	entries map[string]*throttleEntry
}

func newThrottle(p throttlePolicy, now func() time.Time) *throttle {
	return &throttle{policy: p, now: now, entries: make(map[string]*throttleEntry)}
}

// wait returns how long key is still locked (0 if it is not).
func (t *throttle) wait(key string) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[key]
	if !ok || !now.Before(e.until) {
		return 0
	}
	return e.until.Sub(now)
}

// fail records a failed login for key. It returns the lock now in force and
// whether this failure started a burst (the first lock since the key was
// clean), which the caller reports as an event (R22).
func (t *throttle) fail(key string) (lock time.Duration, burst bool) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[key]
	if !ok {
		t.makeRoomLocked(now)
		e = &throttleEntry{}
		t.entries[key] = e
	}
	if now.Sub(e.last) >= t.policy.forget {
		e.failures = 0
	}
	e.failures++
	e.last = now
	over := e.failures - t.policy.free
	if over < 0 {
		return 0, false
	}
	d := t.policy.max
	if over < 30 && t.policy.base<<over < t.policy.max {
		d = t.policy.base << over
	}
	e.until = now.Add(d)
	return d, over == 0
}

// reset forgets key (after a successful login).
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, key)
}

func (t *throttle) makeRoomLocked(now time.Time) {
	if len(t.entries) < t.policy.maxKeys {
		return
	}
	for k, e := range t.entries {
		if now.Sub(e.last) >= t.policy.forget && !now.Before(e.until) {
			delete(t.entries, k)
		}
	}
	for len(t.entries) >= t.policy.maxKeys {
		var oldest string
		var oldestT time.Time
		first := true
		for k, e := range t.entries {
			if first || e.last.Before(oldestT) {
				oldest, oldestT, first = k, e.last, false
			}
		}
		delete(t.entries, oldest)
	}
}

// addrKey is the throttle key of a remote address: the address itself for
// IPv4, its /64 for IPv6 (one host can pick any address in its prefix).
func addrKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}

// pairKey is the throttle key of an address and an account name as typed.
func pairKey(addr, user string) string {
	return addr + "|" + strings.ToLower(user)
}
