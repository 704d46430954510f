package health

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy/audit"
)

// TestPanelLight: the status LED follows health (R24). (Moved from
// cmd/edgerec's TestPanelLevel.)
func TestPanelLight(t *testing.T) {
	tr := NewTracker("d", "v", nil)
	tr.SetCamera(Camera{ID: "a", State: StateRecording})
	tr.SetCamera(Camera{ID: "b", State: StateRefused})
	if l := PanelLight(tr.Snapshot()); l != LightOK {
		t.Fatalf("ok: %v", l)
	}
	tr.SetCamera(Camera{ID: "a", State: StateLost})
	if l := PanelLight(tr.Snapshot()); l != LightDegraded {
		t.Fatalf("camera lost: %v", l)
	}
	tr.SetCamera(Camera{ID: "a", State: StateRecording})
	tr.Warn("horizon", "below floor")
	if l := PanelLight(tr.Snapshot()); l != LightDegraded {
		t.Fatalf("warning: %v", l)
	}
	tr.Raise("tamper", SevCritical, "opened")
	if l := PanelLight(tr.Snapshot()); l != LightFault {
		t.Fatalf("critical: %v", l)
	}
	tr.Raise(AlertWiping, SevCritical, "wiping")
	if l := PanelLight(tr.Snapshot()); l != LightWiping {
		t.Fatalf("wiping: %v", l)
	}
}

type recAudit struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recAudit) Audit(_ context.Context, e audit.Event) (audit.Record, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return audit.Record{}, nil
}

func hasAlert(tr *Tracker, code string, sev Severity) bool {
	for _, a := range tr.Snapshot().Alerts {
		if a.Code == code && a.Severity == sev {
			return true
		}
	}
	return false
}

// TestPanelTamper: opening the enclosure is a critical alert, an upstream
// event and an audit record; closing resolves the alert and is recorded
// too (R24).
func TestPanelTamper(t *testing.T) {
	tr := NewTracker("d", "v", nil)
	au := &recAudit{}
	var sent []bool
	p := NewPanel(PanelConfig{}, PanelDeps{Tracker: tr, Audit: au,
		Upstream: func(_ context.Context, opened bool) error {
			sent = append(sent, opened)
			return errors.New("queue full")
		}})
	ctx := context.Background()
	p.Tamper(ctx, true)
	if !hasAlert(tr, "tamper", SevCritical) {
		t.Fatal("no critical tamper alert")
	}
	p.Tamper(ctx, false)
	if hasAlert(tr, "tamper", SevCritical) {
		t.Fatal("tamper alert kept after closing")
	}
	if len(sent) != 2 || !sent[0] || sent[1] {
		t.Fatalf("upstream: %v", sent)
	}
	if len(au.events) != 2 || au.events[0].Action != "tamper" || au.events[0].Result != "opened" || au.events[1].Result != "closed" || au.events[0].Actor != "device" {
		t.Fatalf("audit: %+v", au.events)
	}
}

// TestPanelWipeArmed: the wipe button held arms the LAN page's wipe
// confirmation for five minutes only, with an alert and an audit record
// (R25).
func TestPanelWipeArmed(t *testing.T) {
	tr := NewTracker("d", "v", nil)
	au := &recAudit{}
	now := time.Now()
	p := NewPanel(PanelConfig{}, PanelDeps{Tracker: tr, Audit: au, Now: func() time.Time { return now }})
	if p.Armed() {
		t.Fatal("armed before the button was held")
	}
	p.WipeArmed(context.Background())
	if !p.Armed() || !hasAlert(tr, "wipe.armed", SevCritical) {
		t.Fatal("not armed after the button was held")
	}
	if len(au.events) != 1 || au.events[0].Action != "wipe.button" || au.events[0].Result != "armed" {
		t.Fatalf("audit: %+v", au.events)
	}
	now = now.Add(5*time.Minute - time.Second)
	if !p.Armed() {
		t.Fatal("disarmed within five minutes")
	}
	now = now.Add(2 * time.Second)
	if p.Armed() {
		t.Fatal("still armed after five minutes")
	}
}

type lightRec struct {
	mu sync.Mutex
	ls []Light
}

func (r *lightRec) SetLight(l Light) { r.mu.Lock(); r.ls = append(r.ls, l); r.mu.Unlock() }
func (r *lightRec) last() (Light, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ls) == 0 {
		return -1, 0
	}
	return r.ls[len(r.ls)-1], len(r.ls)
}

// TestPanelRunDrivesIndicator: Run pushes the light when health changes
// (and only then) and returns when the context ends (R24).
func TestPanelRunDrivesIndicator(t *testing.T) {
	tr := NewTracker("d", "v", nil)
	ind := &lightRec{}
	p := NewPanel(PanelConfig{Every: time.Millisecond}, PanelDeps{Tracker: tr, Indicator: ind})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	wait := func(want Light) int {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if l, n := ind.last(); l == want {
				return n
			}
			if time.Now().After(deadline) {
				t.Fatalf("light never became %v", want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	wait(LightOK)
	tr.Raise("tamper", SevCritical, "opened")
	n := wait(LightFault)
	time.Sleep(20 * time.Millisecond)
	if _, m := ind.last(); m != n {
		t.Fatalf("light set again without a change: %d → %d", n, m)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
