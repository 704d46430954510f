package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy/perm"
)

// Issue 18 (工作记录和档案): an installer records a maintenance visit; it is
// kept on the device, audited with the camera count only (the audit
// stream goes upstream; the text does not), listed for the installer and
// the auditor, and in the review report. Others may not record or read.
func TestMaintenanceVisits(t *testing.T) {
	e := newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver) // the first approver (bootstrap)
	inst := e.user(t, "tech", perm.Installer)
	aud := e.user(t, "audit", perm.Auditor)
	op := e.user(t, "op", perm.Operator)
	e.clk.Add(time.Hour)
	work := "Cleaned the dome of cam1 and cam2; re-aimed cam2 after the shelf moved. Secret detail: door code 1234."
	v, err := e.s.RecordVisit(ctx, inst, []string{"cam2", "cam1", "cam2"}, work)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.ID, "m-") || v.ActorName != "tech" || strings.Join(v.Cameras, ",") != "cam1,cam2" || v.Work != work {
		t.Fatalf("visit %+v", v)
	}
	e.clk.Add(time.Hour)
	if _, err := e.s.RecordVisit(ctx, e.admin.ID, nil, "Replaced the UPS battery."); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{inst, aud, e.admin.ID} {
		vs, err := e.s.Visits(ctx, who, e.clk.Now().Add(-24*time.Hour), e.clk.Now().Add(time.Second))
		if err != nil || len(vs) != 2 || vs[0].ID != v.ID || vs[1].ActorName != "admin" {
			t.Fatalf("Visits as %s: %v %+v", who, err, vs)
		}
	}
	// Window: only the second visit.
	if vs, _ := e.s.Visits(ctx, aud, e.clk.Now().Add(-30*time.Minute), e.clk.Now().Add(time.Second)); len(vs) != 1 {
		t.Fatalf("windowed Visits: %+v", vs)
	}
	// An operator may do neither.
	if _, err := e.s.RecordVisit(ctx, op, nil, "x"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator RecordVisit: %v", err)
	}
	if _, err := e.s.Visits(ctx, op, time.Time{}, e.clk.Now()); !errors.Is(err, ErrForbidden) {
		t.Fatalf("operator Visits: %v", err)
	}
	// Bad input: nothing stored.
	for _, c := range []struct {
		cams []string
		work string
	}{{nil, ""}, {nil, strings.Repeat("x", MaxVisitWork+1)}, {[]string{"../etc"}, "ok"}, {make([]string, MaxVisitCameras+1), "ok"}} {
		if _, err := e.s.RecordVisit(ctx, inst, c.cams, c.work); err == nil {
			t.Fatalf("RecordVisit(%v, %d chars) accepted", c.cams, len(c.work))
		}
	}
	if vs, _ := e.s.Visits(ctx, aud, time.Time{}, e.clk.Now().Add(time.Second)); len(vs) != 2 {
		t.Fatalf("after bad input: %d visits, want 2", len(vs))
	}
	// The review report lists them.
	rep, err := e.s.Review(ctx)
	if err != nil {
		t.Fatal(err)
	}
	txt := rep.String()
	if len(rep.Visits) != 2 || !strings.Contains(txt, "maintenance visits (last 90 days): 2") || !strings.Contains(txt, "by tech on cam1,cam2: Cleaned the dome") {
		t.Fatalf("review report:\n%s", txt)
	}
	// The audit log has the count, never the text.
	recs, err := e.s.AuditAfter(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range recs {
		if r.Action == "maintenance.record" {
			found++
			if r.Detail != "cameras=2" && r.Detail != "cameras=0" {
				t.Fatalf("audit record detail %q, want the camera count only", r.Detail)
			}
		}
	}
	if found != 2 {
		t.Fatalf("%d maintenance.record audit records, want 2", found)
	}
	e.verify(t)
}
