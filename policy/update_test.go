package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
)

// TestUpdateGrant (issue 16, R21): a system update is requested by an
// admin, approved by an approver who is not the requester, used once for
// exactly the approved bundle digest, every step audited citing the grant.
func TestUpdateGrant(t *testing.T) {
	e := newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver)
	admin := e.user(t, "adm", perm.Admin)
	inst := e.user(t, "inst", perm.Installer)
	digest := strings.Repeat("ab", 32)
	req := grants.Request{Action: grants.Update, Purpose: "install system update 2026.12.2", Validity: time.Hour, Digest: digest}

	if _, err := e.s.Request(ctx, inst, req); !errors.Is(err, grants.ErrForbidden) {
		t.Fatalf("installer requested an update: %v", err)
	}
	for name, bad := range map[string]func(*grants.Request){
		"bad digest":   func(r *grants.Request) { r.Digest = "xyz" },
		"upper digest": func(r *grants.Request) { r.Digest = strings.ToUpper(digest) },
		"a camera":     func(r *grants.Request) { r.Cameras = []string{"cam1"} },
		"a kind":       func(r *grants.Request) { r.Kind = grants.KindRemove },
		"no validity":  func(r *grants.Request) { r.Validity = 0 },
	} {
		r := req
		bad(&r)
		if _, err := e.s.Request(ctx, admin, r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	g, err := e.s.Request(ctx, admin, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseUpdate(ctx, g.ID, ActorDevice, digest); !errors.Is(err, grants.ErrNotActive) {
		t.Fatalf("used before approval: %v", err)
	}
	if _, err := e.s.Approve(ctx, admin, g.ID); !errors.Is(err, grants.ErrSelfApproval) {
		t.Fatalf("requester approved: %v", err)
	}
	if _, err := e.s.Approve(ctx, e.ids["boss"], g.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseUpdate(ctx, g.ID, e.ids["boss"], strings.Repeat("cd", 32)); !errors.Is(err, grants.ErrOutOfScope) {
		t.Fatalf("other bundle installed: %v", err)
	}
	if err := e.s.UseUpdate(ctx, g.ID, e.ids["boss"], digest); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseUpdate(ctx, g.ID, e.ids["boss"], digest); !errors.Is(err, grants.ErrNotActive) {
		t.Fatalf("used twice: %v", err)
	}
	// A coverage grant is not an update grant.
	cov, err := e.s.Request(ctx, inst, grants.Request{Action: grants.Coverage, Purpose: "remove", Validity: time.Hour,
		Cameras: []string{"cam1"}, Kind: grants.KindRemove, Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Approve(ctx, e.ids["boss"], cov.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseUpdate(ctx, cov.ID, e.ids["boss"], digest); !errors.Is(err, grants.ErrOutOfScope) {
		t.Fatalf("coverage grant used for an update: %v", err)
	}
	recs, err := e.s.AuditAfter(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		if r.Grant == g.ID || r.Grant == cov.ID {
			count[r.Action+"/"+r.Result]++
		}
	}
	for _, want := range []string{"grant.request/ok", "grant.approve/denied", "grant.approve/ok", "grant.use.update/ok", "grant.use.update/denied"} {
		if count[want] == 0 {
			t.Errorf("no %s audit record citing the grant (have %v)", want, count)
		}
	}
	e.verify(t)
}
