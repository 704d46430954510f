package policy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
)

// The attacks of issue 12 (finding 1), each as its own test, then a random
// adversary: one person holding the admin account, who may create users,
// set and reset passwords, disable and enable, request and revoke, set
// training dates, and act as every account they created or reset. The
// invariant (doc.go): no such person reaches a pixel of recorded footage
// or gives any account a video permission without an independent approver.

// videoPerms are the permissions that show a pixel (live or recorded).
var videoPerms = []perm.Permission{perm.CameraLive, perm.Playback, perm.Export}

// staffed is a device in service: the bootstrap approver "boss" (honest,
// used the one-time exception), a trained operator "op" with camera scope
// and an approved playback grant, and a second approver "boss2".
func staffed(t *testing.T) (e *env, playback grants.Grant) {
	t.Helper()
	e = newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver)
	e.clk.Add(time.Second)
	e.user(t, "op", perm.Operator, "cam-1")
	e.user(t, "boss2", perm.Approver)
	e.clk.Add(time.Second)
	if err := e.s.SetTraining(ctx, e.admin.ID, e.ids["op"], e.clk.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	from, to := e.clk.Now().Add(-2*time.Hour), e.clk.Now().Add(-time.Hour)
	g, err := e.s.Request(ctx, e.ids["op"], grants.Request{Action: grants.Playback, Purpose: "incident 4", Validity: 24 * time.Hour,
		Cameras: []string{"cam-1"}, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if g, err = e.s.Approve(ctx, e.ids["boss"], g.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseGrant(ctx, g.ID, e.ids["op"], grants.Playback, "cam-1", from, to); err != nil {
		t.Fatalf("honest use: %v", err)
	}
	return e, g
}

// Attack 1(a): the admin disables every approver, then uses the
// first-approver exception again to appoint a puppet approver.
func TestR11AttackAdminReBootstrapsAfterDisablingApprovers(t *testing.T) {
	for _, how := range []string{"disable", "revoke role"} {
		t.Run(how, func(t *testing.T) {
			e, _ := staffed(t)
			for _, name := range []string{"boss", "boss2"} {
				id := e.ids[name]
				if how == "disable" {
					if err := e.s.SetDisabled(ctx, e.admin.ID, id, true, "attack"); err != nil {
						t.Fatal(err)
					}
					continue
				}
				u, _ := e.s.Principal(ctx, id)
				_ = u
				var rg string
				us, _ := e.s.Users(ctx)
				for _, x := range us {
					if x.ID == id {
						rg = x.RoleGrant
					}
				}
				if _, err := e.s.Revoke(ctx, e.admin.ID, rg, "attack"); err != nil {
					t.Fatal(err)
				}
			}
			puppet, err := e.s.CreateUser(ctx, e.admin.ID, "puppet", []byte("puppet-one-time"))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.s.SetPassword(ctx, puppet, puppet, []byte("puppet-one-time"), []byte("puppet-password")); err != nil {
				t.Fatal(err)
			}
			g, err := e.s.Request(ctx, e.admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "approver", Validity: 24 * time.Hour,
				Subject: puppet, Role: string(perm.Approver)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.Approve(ctx, e.admin.ID, g.ID); !errors.Is(err, ErrForbidden) {
				t.Fatalf("second bootstrap: %v, want forbidden", err)
			}
			if p, _ := e.s.Principal(ctx, puppet); p.Role != "" {
				t.Fatalf("puppet got role %q", p.Role)
			}
			codes := e.securityCodes()
			if !slices.Contains(codes, SecBootstrapRefused) {
				t.Fatalf("no upstream event for the refused bootstrap: %v", codes)
			}
			if how == "disable" && !slices.Contains(codes, SecApproverDisabled) {
				t.Fatalf("no upstream event for disabled approvers: %v", codes)
			}
			if how == "revoke role" && !slices.Contains(codes, SecRoleRevoked) {
				t.Fatalf("no upstream event for revoked approver roles: %v", codes)
			}
		})
	}
}

// Attack 1(b): the admin resets an operator's password and logs in as
// them.
func TestR11AttackAdminResetsOperatorPassword(t *testing.T) {
	e, g := staffed(t)
	op := e.ids["op"]
	if err := e.s.SetPassword(ctx, e.admin.ID, op, nil, []byte("admin-knows-this")); err != nil {
		t.Fatal(err)
	}
	p, err := e.s.Authenticate(ctx, "op", []byte("admin-knows-this"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.MustChange || p.Role != "" {
		t.Fatalf("after reset: must change %v, role %q", p.MustChange, p.Role)
	}
	if err := e.s.Check(ctx, op, perm.CameraLive, "cam-1"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("live before the password change: %v", err)
	}
	// The admin, as op, sets a password of their own: still nothing.
	if err := e.s.SetPassword(ctx, op, op, []byte("admin-knows-this"), []byte("admin-owns-this-now")); err != nil {
		t.Fatal(err)
	}
	for _, pm := range videoPerms {
		if e.s.Allowed(ctx, op, pm, "cam-1") {
			t.Errorf("%s allowed after the reset", pm)
		}
	}
	if err := e.s.UseGrant(ctx, g.ID, op, grants.Playback, "cam-1", time.Unix(0, g.From), time.Unix(0, g.To)); err == nil {
		t.Fatal("the reset account still uses its playback grant")
	}
	if got, _ := e.s.Grant(ctx, g.ID); got.Status != grants.Revoked {
		t.Fatalf("grant after reset: %s", got.Status)
	}
	if !slices.Contains(e.securityCodes(), SecPasswordReset) {
		t.Fatal("no upstream event for the reset")
	}
}

// Attack 1(c): the admin chose the new user's first password.
func TestR11AttackAdminKnowsFirstPassword(t *testing.T) {
	e, _ := staffed(t)
	id, err := e.s.CreateUser(ctx, e.admin.ID, "newbie", []byte("admin-chose-it"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.s.Authenticate(ctx, "newbie", []byte("admin-chose-it"))
	if err != nil || !p.MustChange {
		t.Fatalf("first login: %+v %v", p, err)
	}
	if _, err := e.s.Request(ctx, id, grants.Request{Action: grants.Playback, Purpose: "x", Validity: time.Hour,
		Cameras: []string{"cam-1"}, From: e.clk.Now().Add(-time.Hour), To: e.clk.Now()}); !errors.Is(err, ErrMustChange) {
		t.Fatalf("request before changing the password: %v", err)
	}
	if err := e.s.SetPassword(ctx, id, id, []byte("admin-chose-it"), []byte("admin-chose-it")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("keeping the given password: %v", err)
	}
	if err := e.s.Check(ctx, id, perm.OwnAccountWrite, ""); err != nil {
		t.Fatalf("changing the password must stay possible: %v", err)
	}
}

// An approver appointed after a request was filed cannot decide it: the
// second person must have been an approver before.
func TestR12ApproverMustPredateRequest(t *testing.T) {
	e, _ := staffed(t)
	op := e.ids["op"]
	g, err := e.s.Request(ctx, op, grants.Request{Action: grants.Export, Purpose: "police", Validity: time.Hour,
		Cameras: []string{"cam-1"}, From: e.clk.Now().Add(-time.Hour), To: e.clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(time.Second)
	late := e.user(t, "late", perm.Approver)
	if _, err := e.s.Approve(ctx, late, g.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("late approver: %v", err)
	}
	if _, err := e.s.Approve(ctx, e.ids["boss2"], g.ID); err != nil {
		t.Fatal(err)
	}
}

// R15: approvers play back and export only with a training date.
func TestR15ApproverNeedsTrainingForFootage(t *testing.T) {
	e, _ := staffed(t)
	boss2 := e.ids["boss2"]
	from, to := e.clk.Now().Add(-time.Hour), e.clk.Now()
	g, err := e.s.Request(ctx, boss2, grants.Request{Action: grants.Playback, Purpose: "review", Validity: time.Hour, Cameras: []string{"cam-1"}, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Approve(ctx, e.ids["boss"], g.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseGrant(ctx, g.ID, boss2, grants.Playback, "cam-1", from, to); !errors.Is(err, ErrForbidden) {
		t.Fatalf("untrained approver plays back: %v", err)
	}
	if err := e.s.SetTraining(ctx, e.admin.ID, boss2, e.clk.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseGrant(ctx, g.ID, boss2, grants.Playback, "cam-1", from, to); err != nil {
		t.Fatalf("trained approver: %v", err)
	}
}

// Attack 6 (R8): a legal hold whose grant expired cannot be revoked; it is
// released by an approver who is not its requester, at any time.
func TestR8HoldReleasedAfterGrantExpired(t *testing.T) {
	e, _ := staffed(t)
	op := e.ids["op"]
	g, err := e.s.Request(ctx, op, grants.Request{Action: grants.LegalHold, Purpose: "court case 9", Validity: time.Hour,
		Cameras: []string{"cam-1"}, From: e.clk.Now().Add(-time.Hour), To: e.clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Approve(ctx, e.ids["boss"], g.ID); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(2 * time.Hour)
	if _, err := e.s.Revoke(ctx, e.ids["boss"], g.ID, "case closed"); err == nil {
		t.Fatal("revoke of an expired grant worked: the test premise changed")
	}
	if _, err := e.s.ReleaseHold(ctx, op, g.ID, "case closed"); err == nil {
		t.Fatal("the requester released their own hold")
	}
	if _, err := e.s.ReleaseHold(ctx, e.admin.ID, g.ID, "case closed"); err == nil {
		t.Fatal("the admin released a hold")
	}
	got, err := e.s.ReleaseHold(ctx, e.ids["boss2"], g.ID, "case closed")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != grants.Revoked || got.DecidedBy != e.ids["boss2"] {
		t.Fatalf("released grant: %+v", got)
	}
	if _, err := e.s.ReleaseHold(ctx, e.ids["boss"], g.ID, "again"); err == nil {
		t.Fatal("released twice")
	}
	e.verify(t)
}

// TestR11AdversaryProperty plays thousands of random sequences of an admin
// with puppet accounts and checks after every step that no account the
// adversary controls may see a pixel, that no footage grant was used by
// one, and that no account gained a video permission it did not have at
// the start (only the honest, trained operator had live view).
func TestR11AdversaryProperty(t *testing.T) {
	seqs, steps := 2000, 25
	if testing.Short() || raceEnabled {
		seqs = 150 // the full run: `make test` runs this test again without -race
	}
	wins, ops := 0, 0
	for seq := range seqs {
		r := rand.New(rand.NewPCG(uint64(seq), 12))
		e, _ := staffed(t)
		a := &adversary{e: e, r: r, known: map[string][]byte{e.admin.ID: []byte("admin-password-1")}}
		initial := a.videoHolders()
		for step := range steps {
			desc := a.step()
			ops++
			for id, pms := range a.videoHolders() {
				for _, pm := range pms {
					if !slices.Contains(initial[id], pm) {
						t.Fatalf("seq %d step %d (%s): %s gained %s", seq, step, desc, id, pm)
					}
				}
			}
			if w := a.reach(); w != "" {
				wins++
				t.Fatalf("seq %d step %d (%s): adversary reached footage: %s", seq, step, desc, w)
			}
		}
		e.s.Close()
	}
	t.Logf("%d sequences, %d adversary operations, %d successes", seqs, ops, wins)
}

type adversary struct {
	e     *env
	r     *rand.Rand
	known map[string][]byte // accounts whose password the adversary knows
	n     int
}

func (a *adversary) ids() []string {
	us, _ := a.e.s.Users(ctx)
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, u.ID)
	}
	slices.Sort(out)
	return out
}

func (a *adversary) controlled() []string {
	out := make([]string, 0, len(a.known))
	for id := range a.known {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// step does one random thing the adversary may do, ignoring refusals.
func (a *adversary) step() string {
	e, r, admin := a.e, a.r, a.e.admin.ID
	all, mine := a.ids(), a.controlled()
	gs, _ := e.s.Grants(ctx)
	now := e.clk.Now()
	switch r.IntN(12) {
	case 0:
		a.n++
		name := fmt.Sprintf("puppet%d", a.n)
		pw := []byte(name + "-pw-given")
		if id, err := e.s.CreateUser(ctx, admin, name, pw); err == nil {
			a.known[id] = pw
		}
		return "create user"
	case 1:
		id := pick(r, all)
		pw := []byte(fmt.Sprintf("reset-%d-password", r.IntN(1000)))
		if err := e.s.SetPassword(ctx, admin, id, nil, pw); err == nil {
			a.known[id] = pw
		}
		return "reset " + id
	case 2:
		id := pick(r, mine)
		pw := []byte(fmt.Sprintf("own-%d-password", r.IntN(1000)))
		if err := e.s.SetPassword(ctx, id, id, a.known[id], pw); err == nil {
			a.known[id] = pw
		}
		return "change own password " + id
	case 3:
		id := pick(r, all)
		_ = e.s.SetDisabled(ctx, pick(r, mine), id, r.IntN(5) != 0, "adversary")
		return "disable/enable " + id
	case 4:
		role, subject := pick(r, perm.Roles()), pick(r, all)
		if r.IntN(2) == 0 {
			role = pick(r, []perm.Role{perm.Approver, perm.Operator})
		}
		if r.IntN(3) != 0 {
			subject = pick(r, mine)
		}
		_, _ = e.s.Request(ctx, pick(r, mine), grants.Request{Action: grants.AssignRole, Purpose: "adversary", Validity: 24 * time.Hour,
			Subject: subject, Role: string(role)})
		return "request role " + string(role)
	case 5:
		// Approve pending requests, as every controlled account in turn.
		for _, g := range gs {
			if g.State(now) == grants.Requested {
				for _, id := range mine {
					_, _ = e.s.Approve(ctx, id, g.ID)
				}
			}
		}
		return "approve all pending"
	case 6:
		if len(gs) > 0 {
			_, _ = e.s.Revoke(ctx, pick(r, mine), pick(r, gs).ID, "adversary")
		}
		return "revoke"
	case 7:
		date := now.Add(-time.Hour)
		if r.IntN(3) == 0 {
			date = time.Time{}
		}
		_ = e.s.SetTraining(ctx, pick(r, mine), pick(r, all), date)
		return "training"
	case 8:
		action := pick(r, []string{grants.Playback, grants.Export, grants.LegalHold})
		_, _ = e.s.Request(ctx, pick(r, mine), grants.Request{Action: action, Purpose: "adversary", Validity: time.Hour,
			Cameras: []string{"cam-1"}, From: now.Add(-3 * time.Hour), To: now})
		return "request " + action
	case 9:
		if len(gs) > 0 {
			_, _ = e.s.ReleaseHold(ctx, pick(r, mine), pick(r, gs).ID, "adversary")
		}
		return "release hold"
	case 10:
		// The known attack, as one move: disable every approver, appoint a
		// puppet approver (first-approver exception), approve through it.
		for _, id := range all {
			if _, ok := a.known[id]; !ok {
				_ = e.s.SetDisabled(ctx, admin, id, true, "adversary")
			}
		}
		pup := pick(r, mine)
		if g, err := e.s.Request(ctx, admin, grants.Request{Action: grants.AssignRole, Purpose: "adversary", Validity: 24 * time.Hour,
			Subject: pup, Role: string(perm.Approver)}); err == nil {
			_, _ = e.s.Approve(ctx, admin, g.ID)
		}
		return "disable approvers + bootstrap a puppet"
	default:
		e.clk.Add(time.Duration(r.IntN(48)) * time.Hour)
		_, _ = e.s.DisableStale(ctx)
		return "time passes"
	}
}

// videoHolders maps each account to the video permissions it has now,
// and to grants.approve (the stepping stone to them).
func (a *adversary) videoHolders() map[string][]perm.Permission {
	out := map[string][]perm.Permission{}
	for _, id := range a.ids() {
		for _, pm := range append(slices.Clone(videoPerms), perm.GrantsApprove) {
			if a.e.s.Allowed(ctx, id, pm, "cam-1") {
				out[id] = append(out[id], pm)
			}
		}
	}
	return out
}

// reach tries every pixel door as every controlled account: live view and
// every playback or export grant on the device.
func (a *adversary) reach() string {
	gs, _ := a.e.s.Grants(ctx)
	for _, id := range a.controlled() {
		for _, pm := range append(slices.Clone(videoPerms), perm.GrantsApprove) {
			if a.e.s.Allowed(ctx, id, pm, "cam-1") {
				return fmt.Sprintf("%s has %s", id, pm)
			}
		}
		for _, g := range gs {
			if g.Action != grants.Playback && g.Action != grants.Export {
				continue
			}
			if err := a.e.s.UseGrant(ctx, g.ID, id, g.Action, "cam-1", time.Unix(0, g.From), time.Unix(0, g.To)); err == nil {
				return fmt.Sprintf("%s used %s grant %s", id, g.Action, g.ID)
			}
		}
	}
	return ""
}
