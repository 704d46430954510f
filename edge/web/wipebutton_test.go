package web

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

type fakeDecom struct {
	calls atomic.Int32
	grant atomic.Value
}

func (f *fakeDecom) Decommission(ctx context.Context, grantID, actorID string) ([]byte, error) {
	f.calls.Add(1)
	f.grant.Store(grantID)
	return []byte(`{"kind":"edgerec.wipe-certificate"}`), nil
}

// TestR25WipeButtonPath: without a grant, a wipe needs the physical button
// held 10 s on the device AND an admin confirming on the page; any other
// role, or no button, is refused and nothing is wiped.
func TestR25WipeButtonPath(t *testing.T) {
	var armed atomic.Bool
	fd := &fakeDecom{}
	e := newEnv(t, envOptions{noCams: true, decom: fd, armed: armed.Load})
	tm := e.makeTeam()
	body := map[string]string{"confirm": "gw-test-01"}
	e.must(http.StatusForbidden, "POST", "/api/v1/decommission", body, tm.cookies["admin"], nil)
	armed.Store(true)
	e.must(http.StatusForbidden, "POST", "/api/v1/decommission", body, tm.cookies["operator"], nil)
	e.must(http.StatusBadRequest, "POST", "/api/v1/decommission", map[string]string{"confirm": "wrong"}, tm.cookies["admin"], nil)
	if fd.calls.Load() != 0 {
		t.Fatal("wiped without button + admin")
	}
	e.must(http.StatusOK, "POST", "/api/v1/decommission", body, tm.cookies["admin"], nil)
	if fd.calls.Load() != 1 || fd.grant.Load().(string) != "" {
		t.Fatalf("decommission calls %d grant %v", fd.calls.Load(), fd.grant.Load())
	}
}

// TestR4FilingInReview: the site's filing number heads the permission
// review report (R4, R14).
func TestR4FilingInReview(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	tm := e.makeTeam()
	var rep struct {
		Site, Filing, Text string
	}
	e.must(http.StatusOK, "GET", "/api/v1/review", nil, tm.cookies["auditor"], &rep)
	if rep.Filing != "GA-2026-0042" || rep.Site != "Branch 12" || !strings.Contains(rep.Text, "GA-2026-0042") {
		t.Fatalf("review: %+v", rep)
	}
}
