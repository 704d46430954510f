package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/storage"
)

// TestLegalHoldFollowsGrant: an approved legal_hold grant places a hold on
// its camera and range (R8); revoking the grant releases it; both are
// audited.
func TestLegalHoldFollowsGrant(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "d")
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Provision(ctx, dir, testVault(t, dir)); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
	p := setupPeople(t, dir)
	defer p.ps.Close()
	g := p.grant(t, p.op, grants.Request{Action: grants.LegalHold, Purpose: "court order 9", Validity: time.Hour, Cameras: []string{"cam1"}, From: t0, To: t0.Add(5 * time.Second)})
	tr := health.NewTracker("d", "v", nil)
	log := slog.New(slog.DiscardHandler)
	applyHolds(ctx, p.ps, st, tr, log)
	holds, _ := st.Holds(ctx)
	if len(holds) != 1 || holds[0].Ref != g+":cam1" || len(holds[0].Segments) != 1 {
		t.Fatalf("holds after approval: %+v", holds)
	}
	applyHolds(ctx, p.ps, st, tr, log) // idempotent
	if holds, _ := st.Holds(ctx); len(holds) != 1 {
		t.Fatalf("hold placed twice: %+v", holds)
	}
	if _, err := p.ps.Revoke(ctx, p.boss, g, "case closed"); err != nil {
		t.Fatal(err)
	}
	applyHolds(ctx, p.ps, st, tr, log)
	if holds, _ := st.Holds(ctx); len(holds) != 0 {
		t.Fatalf("hold kept after revoke: %+v", holds)
	}
	recs, _ := p.ps.AuditAfter(ctx, 0, 1000)
	var placed, released bool
	for _, r := range recs {
		placed = placed || r.Action == "hold.place" && r.Grant == g && r.Result == "ok"
		released = released || r.Action == "hold.release" && r.Grant == g
	}
	if !placed || !released {
		t.Fatalf("audit: placed %v released %v", placed, released)
	}
}
