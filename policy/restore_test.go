package policy

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/sealtest"
)

// freshStore is a provisioned store with nobody in it (a replacement
// gateway before its setup).
func freshStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	seal := sealtest.New()
	if _, err := Provision(ctx, dir, seal); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{DataDir: dir, Password: fastParams(), Limits: grants.Limits{MaxValidity: 72 * time.Hour}},
		Deps{Log: slog.New(slog.DiscardHandler), Sealer: seal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRestoreKeepsFourEyes (issue 18, R26, R11): a replacement gateway
// takes over the old device's accounts without passwords or roles; its
// audit log starts with the record that links to the old head; the first
// admin claims their account with the setup; nobody else gets in or gets
// a role without the usual flow; a restore onto a used store is refused.
func TestRestoreKeepsFourEyes(t *testing.T) {
	s := freshStore(t)
	trained := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	r := Restored{FromDevice: "gw-old", FromKey: "0123456789abcdef", Created: time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC), By: "alice",
		Head: 42, HeadHash: strings.Repeat("ab", 32), Users: []RestoredUser{
			{Name: "alice", Role: "admin"}, {Name: "bob", Role: "approver"},
			{Name: "oscar", Role: "operator", Cameras: []string{"cam-1"}, Trained: trained}}}
	bad := r
	bad.Users = append([]RestoredUser{{Name: "Not A Name!"}}, r.Users...)
	if err := s.Restore(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad user name: %v", err)
	}
	if seq, _ := s.Head(); seq != 0 {
		t.Fatalf("a refused restore wrote %d audit records", seq)
	}
	if err := s.Restore(ctx, r); err != nil {
		t.Fatal(err)
	}
	recs, err := s.AuditAfter(ctx, 0, 10)
	if err != nil || len(recs) != 4 {
		t.Fatalf("audit after restore: %v %+v", err, recs)
	}
	if recs[0].Seq != 1 || recs[0].Action != "device.restore" || recs[0].Target != "gw-old" ||
		!strings.Contains(recs[0].Detail, "head seq 42 hash "+r.HeadHash) || !strings.Contains(recs[0].Detail, "0123456789abcdef") {
		t.Errorf("first audit record does not link to the old head: %+v", recs[0])
	}
	// Nobody logs in to a restored account; the reason is said.
	if _, err := s.Authenticate(ctx, "oscar", []byte("anything-at-all")); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("login to a restored account without password: %v", err)
	}
	// A second restore is refused.
	if err := s.Restore(ctx, r); !errors.Is(err, ErrForbidden) {
		t.Errorf("second restore: %v", err)
	}
	// The setup claims alice's account: admin, nothing else.
	admin, err := s.Bootstrap(ctx, "alice", []byte("alice-new-password"))
	if err != nil || admin.Role != perm.Admin {
		t.Fatalf("claim the admin: %+v %v", admin, err)
	}
	if _, err := s.Bootstrap(ctx, "bob", []byte("bob-new-password")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a second bootstrap after the claim: %v", err)
	}
	us, _ := s.Users(ctx)
	byName := map[string]string{}
	for _, u := range us {
		byName[u.Name] = u.ID
		if u.Name != "alice" && (u.Role != "" || u.Hash != "") {
			t.Errorf("restored %s has role %q or a password", u.Name, u.Role)
		}
		if u.Name == "oscar" && (u.Trained != trained.UnixNano() || len(u.Cameras) != 1) {
			t.Errorf("oscar's training date or camera scope not restored: %+v", u)
		}
	}
	// The admin gives oscar a one-time password; oscar must replace it,
	// then logs in, with no role.
	if err := s.SetPassword(ctx, admin.ID, byName["oscar"], nil, []byte("one-time-from-alice")); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(ctx, "oscar", []byte("one-time-from-alice")); err != nil || !p.MustChange {
		t.Fatalf("one-time password: %+v %v", p, err)
	}
	if err := s.SetPassword(ctx, byName["oscar"], byName["oscar"], []byte("one-time-from-alice"), []byte("oscar-own-password")); err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, "oscar", []byte("oscar-own-password"))
	if err != nil || p.Role != "" {
		t.Fatalf("oscar after setting his password: %+v %v", p, err)
	}
	// Roles only through the flow: bob becomes the first approver through
	// the device's one bootstrap exception, oscar's operator role needs
	// bob, and alice cannot approve it herself.
	g, err := s.Request(ctx, admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "restored", Validity: 24 * time.Hour, Subject: byName["bob"], Role: string(perm.Approver)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, admin.ID, g.ID); err != nil {
		t.Fatalf("first approver: %v", err)
	}
	g, err = s.Request(ctx, admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "restored", Validity: 24 * time.Hour, Subject: byName["oscar"], Role: string(perm.Operator)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, admin.ID, g.ID); err == nil {
		t.Fatal("the admin approved a role alone after a restore")
	}
	from, head, hh, roles, ok, err := s.RestoredFrom(ctx)
	if err != nil || !ok || from != "gw-old" || head != 42 || hh != r.HeadHash || roles["oscar"] != "operator" {
		t.Errorf("RestoredFrom: %s %d %s %v %v %v", from, head, hh, roles, ok, err)
	}
	if rep, err := s.VerifyAudit(ctx); err != nil || !rep.OK() {
		t.Errorf("audit after restore: %v %s", err, rep)
	}
}

// A restore onto a gateway already in use is refused, nothing written.
func TestRestoreOnlyOntoAFreshGateway(t *testing.T) {
	e := newEnv(t, fastParams())
	before := snapshot(t, e.s)
	err := e.s.Restore(ctx, Restored{FromDevice: "gw-old", HeadHash: "00", Users: []RestoredUser{{Name: "mallory", Role: "admin"}}})
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "freshly provisioned") {
		t.Fatalf("restore onto a used store: %v", err)
	}
	if after := snapshot(t, e.s); after != before {
		t.Error("a refused restore changed the store")
	}
}
