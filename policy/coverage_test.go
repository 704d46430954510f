package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
)

// TestR27CoverageGrant: a coverage change (remove a camera, weaken a mask,
// change a zone) is requested by a role that may make the change, approved
// by an approver who is not the requester, applied once for exactly the
// approved digest, and every step is audited citing the grant (R27, R12,
// R16).
func TestR27CoverageGrant(t *testing.T) {
	e := newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver)
	inst := e.user(t, "inst", perm.Installer)
	op := e.user(t, "op", perm.Operator)
	digest := strings.Repeat("ab", 32)
	req := grants.Request{Action: grants.Coverage, Purpose: "remove camera cam1", Validity: time.Hour, Cameras: []string{"cam1"},
		Kind: grants.KindRemove, Digest: digest}

	// Only a role that may make the change requests it.
	if _, err := e.s.Request(ctx, op, req); !errors.Is(err, grants.ErrForbidden) {
		t.Fatalf("operator requested a coverage change: %v", err)
	}
	for name, bad := range map[string]func(*grants.Request){
		"no camera":     func(r *grants.Request) { r.Cameras = nil },
		"two cameras":   func(r *grants.Request) { r.Cameras = []string{"a", "b"} },
		"bad digest":    func(r *grants.Request) { r.Digest = "xyz" },
		"upper digest":  func(r *grants.Request) { r.Digest = strings.ToUpper(digest) },
		"unknown kind":  func(r *grants.Request) { r.Kind = "paint" },
		"with a range":  func(r *grants.Request) { r.From, r.To = time.Now(), time.Now().Add(time.Hour) },
		"over validity": func(r *grants.Request) { r.Validity = 100 * time.Hour },
	} {
		r := req
		bad(&r)
		if _, err := e.s.Request(ctx, inst, r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	g, err := e.s.Request(ctx, inst, req)
	if err != nil {
		t.Fatal(err)
	}
	if g.Kind != grants.KindRemove || g.Digest != digest || g.Cameras[0] != "cam1" || g.State(e.clk.Now()) != grants.Requested {
		t.Fatalf("request %+v", g)
	}
	// Not applicable before approval; the requester cannot approve.
	if err := e.s.UseCoverage(ctx, g.ID, ActorDevice, digest); !errors.Is(err, grants.ErrNotActive) {
		t.Fatalf("applied before approval: %v", err)
	}
	if _, err := e.s.Approve(ctx, inst, g.ID); !errors.Is(err, grants.ErrSelfApproval) {
		t.Fatalf("requester approved: %v", err)
	}
	if _, err := e.s.Approve(ctx, e.ids["boss"], g.ID); err != nil {
		t.Fatal(err)
	}
	// Exactly the approved change, once.
	if err := e.s.UseCoverage(ctx, g.ID, e.ids["boss"], strings.Repeat("cd", 32)); !errors.Is(err, grants.ErrOutOfScope) {
		t.Fatalf("other digest applied: %v", err)
	}
	if err := e.s.UseCoverage(ctx, g.ID, e.ids["boss"], digest); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseCoverage(ctx, g.ID, ActorDevice, digest); !errors.Is(err, grants.ErrNotActive) {
		t.Fatalf("applied twice: %v", err)
	}
	// A stale request is revoked by the device, audited.
	g2, err := e.s.Request(ctx, inst, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.RefuseCoverage(ctx, g2.ID, "camera config changed since the request"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.Grant(ctx, g2.ID); got.Status != grants.Revoked || got.DecidedBy != ActorDevice {
		t.Fatalf("refused grant %+v", got)
	}
	// An expired approval cannot be applied.
	g3, _ := e.s.Request(ctx, inst, req)
	if _, err := e.s.Approve(ctx, e.ids["boss"], g3.ID); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(2 * time.Hour)
	if err := e.s.UseCoverage(ctx, g3.ID, ActorDevice, digest); !errors.Is(err, grants.ErrNotActive) {
		t.Fatalf("expired grant applied: %v", err)
	}
	recs, err := e.s.AuditAfter(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		if r.Grant == g.ID || r.Grant == g2.ID || r.Grant == g3.ID {
			count[r.Action+"/"+r.Result]++
		}
	}
	for _, want := range []string{"grant.request/ok", "grant.approve/denied", "grant.approve/ok", "grant.use.coverage/ok", "grant.use.coverage/denied", "coverage.conflict/denied"} {
		if count[want] == 0 {
			t.Errorf("no %s audit record citing the grant (have %v)", want, count)
		}
	}
	e.verify(t)
}
