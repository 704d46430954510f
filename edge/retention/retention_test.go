package retention

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/storage"
)

// fakePolicy serves a fixed grant list and records audit events.
type fakePolicy struct {
	mu     sync.Mutex
	grants []grants.Grant
	events []audit.Event
	stale  int
}

func (p *fakePolicy) Grants(context.Context) ([]grants.Grant, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]grants.Grant(nil), p.grants...), nil
}

func (p *fakePolicy) Audit(_ context.Context, e audit.Event) (audit.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
	return audit.Record{}, nil
}

func (p *fakePolicy) DisableStale(context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stale++
	return []string{"u1"}, nil
}

func (p *fakePolicy) actions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.events {
		out = append(out, e.Action+"/"+e.Grant+"/"+e.Target+"/"+e.Result)
	}
	return out
}

// recordedStore provisions a real store with one closed 2 s segment of
// cam1 starting a minute ago.
func recordedStore(t *testing.T) (*storage.Store, time.Time) {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "d")
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	w, err := st.BeginSegment(ctx, storage.SegmentMeta{Camera: "cam1", Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := w.WriteFrame(storage.Frame{Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), Key: i%10 == 0, Data: []byte{0, 0, 0, 1, 0x65, byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return st, t0
}

func legalHold(id, status string, t0 time.Time) grants.Grant {
	return grants.Grant{ID: id, Action: grants.LegalHold, Status: status, Issued: t0.UnixNano(),
		Cameras: []string{"cam1"}, From: t0.UnixNano(), To: t0.Add(5 * time.Second).UnixNano()}
}

// TestLegalHoldFollowsGrant: an approved legal_hold grant places a hold on
// its camera and range (R8); applying again places nothing more; revoking
// the grant releases it; both are audited as the device. (Moved from
// cmd/edgerec, now against the service with a fake policy store.)
func TestLegalHoldFollowsGrant(t *testing.T) {
	ctx := context.Background()
	st, t0 := recordedStore(t)
	pol := &fakePolicy{grants: []grants.Grant{legalHold("g1", grants.Approved, t0)}}
	tr := health.NewTracker("d", "v", nil)
	s, err := New(Config{}, Deps{Store: st, Policy: pol, Health: tr})
	if err != nil {
		t.Fatal(err)
	}
	s.ApplyHolds(ctx)
	holds, _ := st.Holds(ctx)
	if len(holds) != 1 || holds[0].Ref != "g1:cam1" || len(holds[0].Segments) != 1 {
		t.Fatalf("holds after approval: %+v", holds)
	}
	s.ApplyHolds(ctx) // idempotent
	if holds, _ := st.Holds(ctx); len(holds) != 1 {
		t.Fatalf("hold placed twice: %+v", holds)
	}
	// The grant's validity lapsing does not release the hold.
	pol.grants[0].Status = grants.Expired
	s.ApplyHolds(ctx)
	if holds, _ := st.Holds(ctx); len(holds) != 1 {
		t.Fatalf("hold released by expiry: %+v", holds)
	}
	pol.grants[0].Status = grants.Revoked
	s.ApplyHolds(ctx)
	if holds, _ := st.Holds(ctx); len(holds) != 0 {
		t.Fatalf("hold kept after revoke: %+v", holds)
	}
	want := []string{"hold.place/g1/cam1/ok", "hold.release/g1/cam1/ok"}
	if got := pol.actions(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit: %v, want %v", got, want)
	}
}

// TestLegalHoldPendingGrantPlacesNothing: a requested (not yet approved)
// legal hold, or one approved but not issued, places no hold (R8, four
// eyes).
func TestLegalHoldPendingGrantPlacesNothing(t *testing.T) {
	ctx := context.Background()
	st, t0 := recordedStore(t)
	notIssued := legalHold("g2", grants.Approved, t0)
	notIssued.Issued = 0
	pol := &fakePolicy{grants: []grants.Grant{legalHold("g1", grants.Requested, t0), notIssued}}
	s, _ := New(Config{}, Deps{Store: st, Policy: pol, Health: health.NewTracker("d", "v", nil)})
	s.ApplyHolds(ctx)
	if holds, _ := st.Holds(ctx); len(holds) != 0 {
		t.Fatalf("hold placed without an issued approval: %+v", holds)
	}
	if a := pol.actions(); len(a) != 0 {
		t.Fatalf("audited: %v", a)
	}
}

// fakeStore is a Store whose figures and failures the test sets.
type fakeStore struct {
	mu       sync.Mutex
	stats    storage.Stats
	horizon  storage.Horizon
	holds    []storage.HoldInfo
	holdErr  error
	applied  []map[string]time.Duration
	applyErr error
}

func (f *fakeStore) Stats() storage.Stats     { return f.stats }
func (f *fakeStore) Horizon() storage.Horizon { return f.horizon }
func (f *fakeStore) ApplyRetention(_ context.Context, m map[string]time.Duration) (storage.RetentionReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, m)
	return storage.RetentionReport{}, f.applyErr
}
func (f *fakeStore) Holds(context.Context) ([]storage.HoldInfo, error) { return f.holds, nil }
func (f *fakeStore) Hold(context.Context, string, time.Time, time.Time, string) (uint64, error) {
	return 7, f.holdErr
}
func (f *fakeStore) ReleaseHold(context.Context, uint64, string) error { return nil }

func (f *fakeStore) appliedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applied)
}

func alert(tr *health.Tracker, code string) (health.Alert, bool) {
	for _, a := range tr.Snapshot().Alerts {
		if a.Code == code {
			return a, true
		}
	}
	return health.Alert{}, false
}

// TestHoldFailureAndReviewAlerts: a hold that cannot be placed is a
// critical alert and audited as failed; a hold older than the review age
// raises a review alert naming its grant and camera (R8, issue 12).
func TestHoldFailureAndReviewAlerts(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	fs := &fakeStore{holdErr: errors.New("hold area full"),
		holds: []storage.HoldInfo{{ID: 3, Camera: "cam9", Ref: "gold:cam9", Created: now.Add(-100 * 24 * time.Hour)}}}
	pol := &fakePolicy{grants: []grants.Grant{legalHold("g1", grants.Approved, now)}}
	tr := health.NewTracker("d", "v", nil)
	s, _ := New(Config{}, Deps{Store: fs, Policy: pol, Health: tr, Now: func() time.Time { return now }})
	s.ApplyHolds(ctx)
	if a, ok := alert(tr, "hold:cam1"); !ok || a.Severity != health.SevCritical || !strings.Contains(a.Text, "g1") {
		t.Fatalf("failed hold alert: %+v %v", a, ok)
	}
	if got := pol.actions(); len(got) != 1 || got[0] != "hold.place/g1/cam1/failed" {
		t.Fatalf("audit: %v", got)
	}
	if a, ok := alert(tr, "hold.review:gold:cam9"); !ok || !strings.Contains(a.Text, "gold") || !strings.Contains(a.Text, "100 days") {
		t.Fatalf("review alert: %+v %v", a, ok)
	}
	// Younger than the review age: resolved.
	fs.holds[0].Created = now
	fs.holdErr = nil
	s.ApplyHolds(ctx)
	if _, ok := alert(tr, "hold.review:gold:cam9"); ok {
		t.Fatal("review alert kept for a young hold")
	}
	if _, ok := alert(tr, "hold:cam1"); ok {
		t.Fatal("hold failure alert kept after the hold was placed")
	}
}

// TestStatsHorizonAndRetention: the storage figures reach health; a
// horizon below the floor is the R7 alert and clears when it recovers;
// retention (R6) is applied with the cameras' maximum ages at most once
// per RetentionEvery, and a failure is an alert.
func TestStatsHorizonAndRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	fs := &fakeStore{stats: storage.Stats{RingBytes: 1000, UsedBytes: 400, Segments: 3, Cipher: "xchacha20poly1305", Failed: errors.New("disk gone")},
		horizon: storage.Horizon{Known: true, Duration: 3 * 24 * time.Hour}}
	tr := health.NewTracker("d", "v", nil)
	s, _ := New(Config{Floor: 7 * 24 * time.Hour}, Deps{Store: fs, Policy: &fakePolicy{}, Health: tr,
		Now:       func() time.Time { return now },
		Retention: func() map[string]time.Duration { return map[string]time.Duration{"cam1": 72 * time.Hour} }})
	s.maintain(ctx)
	snap := tr.Snapshot()
	if snap.Storage.RingBytes != 1000 || snap.Storage.Segments != 3 || snap.Storage.HorizonFloor != 7*24*time.Hour {
		t.Fatalf("storage figures: %+v", snap.Storage)
	}
	if a, ok := alert(tr, "horizon"); !ok || !strings.Contains(a.Text, "3.0 days") || !strings.Contains(a.Text, "7.0 days") {
		t.Fatalf("R7 alert: %+v %v", a, ok)
	}
	if _, ok := alert(tr, "storage"); !ok {
		t.Fatal("no alert for a stopped store")
	}
	if fs.appliedCount() != 1 || fs.applied[0]["cam1"] != 72*time.Hour {
		t.Fatalf("retention applied: %v", fs.applied)
	}
	fs.horizon.Duration = 8 * 24 * time.Hour
	fs.applyErr = errors.New("index busy")
	now = now.Add(time.Minute)
	s.maintain(ctx)
	if _, ok := alert(tr, "horizon"); ok {
		t.Fatal("R7 alert kept above the floor")
	}
	if fs.appliedCount() != 1 {
		t.Fatal("retention applied again before RetentionEvery")
	}
	now = now.Add(DefaultRetentionEvery)
	s.maintain(ctx)
	if fs.appliedCount() != 2 {
		t.Fatal("retention not applied after RetentionEvery")
	}
	if _, ok := alert(tr, "retention"); !ok {
		t.Fatal("no alert for a failed retention")
	}
}

// TestRunStopsWithContext: Run does each job at once and returns when the
// context ends (R14: stale accounts are disabled at start).
func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pol := &fakePolicy{}
	fs := &fakeStore{}
	s, err := New(Config{StatsEvery: 10 * time.Millisecond}, Deps{Store: fs, Policy: pol, Health: health.NewTracker("d", "v", nil),
		Retention: func() map[string]time.Duration { return map[string]time.Duration{"cam1": time.Hour} }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for fs.appliedCount() == 0 || func() bool { pol.mu.Lock(); defer pol.mu.Unlock(); return pol.stale == 0 }() {
		if time.Now().After(deadline) {
			t.Fatal("Run did not apply retention and the stale review at start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewNeedsDeps(t *testing.T) {
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Fatal("New without deps")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{72 * time.Hour: "3.0 days", 5 * time.Hour: "5.0 hours", 30 * time.Minute: "30 minutes"} {
		if got := HumanDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
