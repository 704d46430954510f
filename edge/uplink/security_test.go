package uplink

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy"
)

type recAlerts struct {
	mu     sync.Mutex
	raised map[string]bool
}

func (a *recAlerts) Raise(key string, _ health.Severity, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.raised[key] = true
}

func (a *recAlerts) Resolve(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.raised, key)
}

func (a *recAlerts) has(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.raised[key]
}

type chanQueue chan Event

func (q chanQueue) Event(_ context.Context, e Event) error { q <- e; return nil }

// The security relay (issue 15: out of cmd/edgerec) queues account events
// until the uplink runs, forwards them, raises the login-burst warning
// for its window, and never blocks its callers when the queue is full.
func TestSecurityRelay(t *testing.T) {
	a := &recAlerts{raised: map[string]bool{}}
	r := NewSecurityRelay(a, nil)
	r.PolicyEvent(policy.SecurityEvent{Code: "user.disabled", OK: true, Time: time.Now()})
	r.LoginBurst(12, 300*time.Millisecond)
	if !a.has("login.burst") {
		t.Fatal("login burst not raised")
	}
	q := make(chanQueue, 8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx, q); close(done) }()
	got := []Event{<-q, <-q}
	if got[0].Kind != EventAccountSecurity || got[0].Code != "user.disabled" || got[0].Value != 1 || got[1].Kind != EventLoginBurst || got[1].Count != 12 {
		t.Fatalf("events %+v", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.has("login.burst") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if a.has("login.burst") {
		t.Fatal("login burst warning did not clear after its window")
	}
	cancel()
	<-done
	// Without a running relay, a full queue drops instead of blocking.
	start := time.Now()
	for range 300 {
		r.PolicyEvent(policy.SecurityEvent{Code: "x"})
	}
	if time.Since(start) > 2*time.Second || len(r.ch) != cap(r.ch) {
		t.Fatalf("queue %d/%d after %v", len(r.ch), cap(r.ch), time.Since(start))
	}
}
