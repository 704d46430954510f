package web

import (
	"net/http"
	"strings"
	"testing"
)

// TestR27CoverageRequestOverLAN: on the LAN page an installer's mask
// deletion and camera removal answer 202 with a coverage request and
// change nothing; approvers see the request with its kind; the requester
// cannot approve; an approver's approval applies the change through the
// camera manager, audited with the grant id; a denied removal leaves the
// camera recording; adding a mask applies at once (issue 12 finding 8).
func TestR27CoverageRequestOverLAN(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	inst, ap := tm.cookies["installer"], tm.cookies["approver"]
	window := maskView{Name: "window", Style: "fill", Polygon: [][2]float64{{0.1, 0.1}, {0.4, 0.1}, {0.4, 0.4}, {0.1, 0.4}}}
	e.must(http.StatusNoContent, "PUT", "/api/v1/cameras/cam1/masks", masksInput{Masks: []maskView{window}}, inst, nil)

	var p pendingView
	e.must(http.StatusAccepted, "PUT", "/api/v1/cameras/cam1/masks", masksInput{Masks: []maskView{}}, inst, &p)
	if p.State != "waiting_for_approval" || p.Kind != "mask_reduce" || !strings.HasPrefix(p.Request, "g-") || !strings.Contains(p.Message, p.Request) {
		t.Fatalf("202 body %+v", p)
	}
	var cam cameraView
	e.must(http.StatusOK, "GET", "/api/v1/cameras/cam1", nil, inst, &cam)
	if len(cam.Masks) != 1 {
		t.Fatalf("mask deleted without approval: %+v", cam.Masks)
	}
	var list []grantView
	e.must(http.StatusOK, "GET", "/api/v1/grants", nil, ap, &list)
	ok := false
	for _, g := range list {
		ok = ok || g.ID == p.Request && g.Action == "coverage" && g.Kind == "mask_reduce" && g.State == "requested" && len(g.Digest) == 64
	}
	if !ok {
		t.Fatalf("approvers do not see the request: %+v", list)
	}
	if st := e.jdo("POST", "/api/v1/grants/"+p.Request+"/approve", nil, inst, nil); st != http.StatusForbidden {
		t.Fatalf("requester approved: %d", st)
	}
	var g grantView
	e.must(http.StatusOK, "POST", "/api/v1/grants/"+p.Request+"/approve", nil, ap, &g)
	if g.State != "approved" || g.Uses != 1 {
		t.Fatalf("approved grant %+v", g)
	}
	e.must(http.StatusOK, "GET", "/api/v1/cameras/cam1", nil, inst, &cam)
	if len(cam.Masks) != 0 {
		t.Fatalf("approved deletion not applied: %+v", cam.Masks)
	}
	used := false
	for _, r := range e.audit() {
		used = used || r.Action == "grant.use.coverage" && r.Grant == p.Request && r.Result == "ok"
	}
	if !used {
		t.Fatal("applying is not audited with the grant id")
	}

	// Removal: 202; denied → the camera stays.
	e.must(http.StatusAccepted, "DELETE", "/api/v1/cameras/cam1", nil, inst, &p)
	if p.Kind != "remove" {
		t.Fatalf("remove: %+v", p)
	}
	e.must(http.StatusOK, "POST", "/api/v1/grants/"+p.Request+"/deny", reasonRequest{Reason: "camera still needed"}, ap, nil)
	e.must(http.StatusOK, "GET", "/api/v1/cameras/cam1", nil, inst, &cam)
}
