package grants

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy/perm"
)

var (
	t0    = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	alice = Actor{"u-alice", perm.Operator}
	bob   = Actor{"u-bob", perm.Approver}
	carol = Actor{"u-carol", perm.Approver}
	admin = Actor{"u-admin", perm.Admin}
	inst  = Actor{"u-inst", perm.Installer}
	lim   = Limits{MaxValidity: 72 * time.Hour}
)

func footage() Request {
	return Request{Action: Playback, Purpose: "incident 42", Validity: 24 * time.Hour, Cameras: []string{"cam-1", "cam-2"},
		From: t0.Add(-48 * time.Hour), To: t0.Add(-47 * time.Hour)}
}

// TestR12BadInput: clear errors for inverted or unbounded ranges, validity
// over the maximum, unknown roles, control characters.
func TestR12BadInput(t *testing.T) {
	m := perm.NewMatrix()
	mod := func(f func(*Request)) Request { r := footage(); f(&r); return r }
	cases := []struct {
		name string
		r    Request
		by   Actor
		want error
		msg  string
	}{
		{"inverted range", mod(func(r *Request) { r.From, r.To = r.To, r.From }), alice, ErrTimeRange, "is not before"},
		{"empty range", mod(func(r *Request) { r.To = r.From }), alice, ErrTimeRange, "is not before"},
		{"unbounded from", mod(func(r *Request) { r.From = time.Time{} }), alice, ErrTimeRange, "unbounded"},
		{"unbounded to", mod(func(r *Request) { r.To = time.Time{} }), alice, ErrTimeRange, "unbounded"},
		{"huge range", mod(func(r *Request) { r.From = r.To.Add(-500 * 24 * time.Hour) }), alice, ErrTimeRange, "longer"},
		{"validity over max", mod(func(r *Request) { r.Validity = 73 * time.Hour }), alice, ErrValidity, "exceeds the policy maximum 72h"},
		{"zero validity", mod(func(r *Request) { r.Validity = 0 }), alice, ErrValidity, "positive"},
		{"no cameras", mod(func(r *Request) { r.Cameras = nil }), alice, ErrInvalid, "cameras"},
		{"camera control char", mod(func(r *Request) { r.Cameras = []string{"cam\x001"} }), alice, ErrInvalid, "control character"},
		{"duplicate camera", mod(func(r *Request) { r.Cameras = []string{"a", "a"} }), alice, ErrInvalid, "twice"},
		{"no purpose", mod(func(r *Request) { r.Purpose = "" }), alice, ErrInvalid, "purpose"},
		{"purpose newline", mod(func(r *Request) { r.Purpose = "a\nb" }), alice, ErrInvalid, "control"},
		{"unknown action", mod(func(r *Request) { r.Action = "delete" }), alice, ErrInvalid, "action"},
		{"installer playback", footage(), inst, ErrForbidden, "installer"},
		{"admin playback", footage(), admin, ErrForbidden, "admin"},
		{"unknown role", Request{Action: AssignRole, Purpose: "p", Validity: time.Hour, Subject: "u-x", Role: "root"}, admin, ErrInvalid, "unknown role"},
		{"operator assigns role", Request{Action: AssignRole, Purpose: "p", Validity: time.Hour, Subject: "u-x", Role: "auditor"}, alice, ErrForbidden, ""},
		{"operator decommission", Request{Action: Decommission, Purpose: "p", Validity: time.Hour}, alice, ErrForbidden, ""},
	}
	for _, tc := range cases {
		_, err := New("g-1", tc.r, tc.by, m, lim, t0)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

// TestR12Flow: the happy path and each refusal of the state machine.
func TestR12Flow(t *testing.T) {
	m := perm.NewMatrix()
	g, err := New("g-1", footage(), alice, m, lim, t0)
	if err != nil {
		t.Fatal(err)
	}
	in := Use{Playback, "cam-1", t0.Add(-48 * time.Hour), t0.Add(-47*time.Hour - time.Minute)}
	if err := g.CheckUse(alice, in, t0); !errors.Is(err, ErrNotActive) {
		t.Fatalf("use before approval: %v", err)
	}
	if err := g.Approve(Actor{alice.ID, perm.Approver}, m, t0); !errors.Is(err, ErrSelfApproval) {
		t.Fatalf("self approval: %v", err)
	}
	if err := g.Approve(alice, m, t0); !errors.Is(err, ErrSelfApproval) {
		t.Fatalf("self approval: %v", err)
	}
	if err := g.Approve(admin, m, t0); !errors.Is(err, ErrNotApprover) {
		t.Fatalf("admin approval: %v", err)
	}
	now := t0.Add(time.Hour)
	if err := g.Approve(bob, m, now); err != nil {
		t.Fatal(err)
	}
	if g.Issued != now.UnixNano() || g.Expires != now.Add(24*time.Hour).UnixNano() {
		t.Fatal("issue times")
	}
	if err := g.Approve(carol, m, now); !errors.Is(err, ErrNotPending) {
		t.Fatalf("second approval: %v", err)
	}
	if err := g.CheckUse(alice, in, now); err != nil {
		t.Fatal(err)
	}
	for name, u := range map[string]Use{
		"other camera": {Playback, "cam-3", in.From, in.To},
		"other action": {Export, "cam-1", in.From, in.To},
		"early":        {Playback, "cam-1", in.From.Add(-time.Second), in.To},
		"late":         {Playback, "cam-1", in.From, t0.Add(-46 * time.Hour)},
	} {
		if err := g.CheckUse(alice, u, now); !errors.Is(err, ErrOutOfScope) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := g.CheckUse(carol, in, now); !errors.Is(err, ErrNotHolder) {
		t.Errorf("other user: %v", err)
	}
	if err := g.CheckUse(alice, in, now.Add(24*time.Hour)); !errors.Is(err, ErrNotActive) {
		t.Errorf("expired: %v", err)
	}
	if err := g.Revoke(inst, "x", m, now); !errors.Is(err, ErrNotRevocable) {
		t.Errorf("installer revoke: %v", err)
	}
	if err := g.Revoke(bob, "", m, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("revoke without reason: %v", err)
	}
	if err := g.Revoke(bob, "case closed", m, now); err != nil {
		t.Fatal(err)
	}
	if err := g.CheckUse(alice, in, now); !errors.Is(err, ErrNotActive) {
		t.Errorf("revoked: %v", err)
	}
	// Lapsed request.
	g2, _ := New("g-2", footage(), alice, m, lim, t0)
	if err := g2.Approve(bob, m, t0.Add(72*time.Hour)); !errors.Is(err, ErrRequestExpired) {
		t.Errorf("approve lapsed: %v", err)
	}
	// Decommission: admin requests, approver approves.
	d, err := New("g-3", Request{Action: Decommission, Purpose: "site closed", Validity: time.Hour}, admin, m, lim, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Approve(bob, m, t0); err != nil || d.CheckUse(admin, Use{Action: Decommission}, t0) != nil {
		t.Fatal("decommission flow")
	}
}

// TestR13RoleBootstrap: the bootstrap exception applies only to an admin
// assigning the approver role to someone else.
func TestR13RoleBootstrap(t *testing.T) {
	m := perm.NewMatrix()
	r := Request{Action: AssignRole, Purpose: "first approver", Validity: time.Hour, Subject: "u-bob", Role: "approver"}
	g, _ := New("g-1", r, admin, m, lim, t0)
	if err := g.ApproveBootstrap(admin, t0); err != nil || g.State(t0) != Approved || !g.Approvals[0].Bootstrap {
		t.Fatal(err)
	}
	r.Role = "operator"
	g, _ = New("g-2", r, admin, m, lim, t0)
	if err := g.ApproveBootstrap(admin, t0); !errors.Is(err, ErrNotApprover) {
		t.Fatal(err)
	}
	r.Role, r.Subject = "approver", admin.ID
	g, _ = New("g-3", r, admin, m, lim, t0)
	if err := g.ApproveBootstrap(admin, t0); !errors.Is(err, ErrNotApprover) {
		t.Fatal("admin bootstrapped themself")
	}
	// Approver approving their own role change.
	r.Subject = bob.ID
	g, _ = New("g-4", r, admin, m, lim, t0)
	if err := g.Approve(bob, m, t0); !errors.Is(err, ErrSelfApproval) {
		t.Fatal(err)
	}
}

// machine runs a random sequence of request/approve/deny/revoke/expire/use
// operations against a few grants with an injected clock, and checks every
// successful use against a reference history.
type event struct {
	op   string
	by   string
	at   time.Time
	ok   bool
	gid  int
	use  Use
	vali time.Duration
}

func runMachine(t *testing.T, next func(n int) int) (uses int) {
	m := perm.NewMatrix()
	actors := []Actor{alice, bob, carol, admin, inst, {"u-op2", perm.Operator}}
	cams := []string{"cam-1", "cam-2", "cam-3"}
	now := t0
	var gs []*Grant
	var reqs []Request
	var hist []event
	for step := 0; step < 40; step++ {
		by := actors[next(len(actors))]
		op := next(7)
		// Bias towards the interesting paths (approvers approve, holders
		// use within scope) so the property is exercised, not vacuous;
		// the unbiased choices above still reach every refusal.
		bias := next(3) > 0
		switch op {
		case 0: // request
			r := Request{Action: []string{Playback, Export, LegalHold}[next(3)], Purpose: "p",
				Validity: time.Duration(next(80)) * time.Hour, Cameras: []string{cams[next(3)]},
				From: t0.Add(-time.Duration(next(10)+1) * time.Hour), To: t0.Add(-time.Duration(next(3)) * time.Hour)}
			if bias {
				by = actors[next(3)] // alice, bob, carol
			}
			g, err := New(fmt.Sprintf("g-%d", len(gs)), r, by, m, lim, now)
			if err == nil {
				if !m.MayHoldGrant(by.Role, perm.Playback) || r.Validity <= 0 || r.Validity > lim.MaxValidity || !r.From.Before(r.To) {
					t.Fatalf("request accepted: %+v by %v", r, by)
				}
				gs, reqs = append(gs, &g), append(reqs, r)
			}
		case 1, 2: // approve / deny
			if len(gs) == 0 {
				continue
			}
			i := next(len(gs))
			if bias {
				by = actors[1+next(2)] // bob or carol
			}
			var err error
			if op == 1 {
				err = gs[i].Approve(by, m, now)
			} else {
				err = gs[i].Deny(by, "no", m, now)
			}
			if err == nil && (by.ID == gs[i].Requester || by.Role != perm.Approver) {
				t.Fatalf("%d decided by %v, requester %s", op, by, gs[i].Requester)
			}
			hist = append(hist, event{op: map[int]string{1: "approve", 2: "deny"}[op], by: by.ID, at: now, ok: err == nil, gid: i})
		case 3: // revoke
			if len(gs) == 0 {
				continue
			}
			i := next(len(gs))
			err := gs[i].Revoke(by, "r", m, now)
			hist = append(hist, event{op: "revoke", by: by.ID, at: now, ok: err == nil, gid: i})
		case 4: // time passes (expiry)
			now = now.Add(time.Duration(next(30)) * time.Hour)
		case 5, 6: // use
			if len(gs) == 0 {
				continue
			}
			i := next(len(gs))
			u := Use{Action: []string{Playback, Export, LegalHold}[next(3)], Camera: cams[next(3)],
				From: t0.Add(-time.Duration(next(12)) * time.Hour), To: t0.Add(-time.Duration(next(4)) * time.Hour)}
			if bias {
				r := reqs[i]
				by = Actor{gs[i].Requester, perm.Role(gs[i].RequesterRole)}
				u.Action, u.Camera = r.Action, r.Cameras[0]
				if next(2) == 0 {
					u.From, u.To = r.From, r.To
				}
			}
			if u.To.Before(u.From) {
				u.From, u.To = u.To, u.From
			}
			if err := gs[i].CheckUse(by, u, now); err != nil {
				continue
			}
			// Property: the use is inside scope, by the requester, after an
			// approval by someone else, before expiry, with no revoke/deny.
			g, r := gs[i], reqs[i]
			if by.ID != g.Requester || u.Action != r.Action || !slices.Contains(r.Cameras, u.Camera) ||
				u.From.Before(r.From) || u.To.After(r.To) {
				t.Fatalf("use outside scope: %+v of %+v by %v", u, r, by)
			}
			var approved time.Time
			for _, e := range hist {
				if e.gid != i || !e.ok {
					continue
				}
				switch e.op {
				case "approve":
					if e.by == g.Requester {
						t.Fatal("approved by requester")
					}
					approved = e.at
				case "deny", "revoke":
					t.Fatalf("use after %s", e.op)
				}
			}
			if approved.IsZero() || !now.Before(approved.Add(r.Validity)) {
				t.Fatalf("use without approval or after expiry: approved %v validity %v now %v", approved, r.Validity, now)
			}
			uses++
		}
	}
	return uses
}

// TestR12GrantMachineProperty: random operation sequences never allow use
// outside scope, after expiry or revocation, or approval by the requester.
func TestR12GrantMachineProperty(t *testing.T) {
	uses := 0
	for seed := range uint64(3000) {
		rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		uses += runMachine(t, rng.IntN)
	}
	if uses < 100 { // the property must not hold vacuously
		t.Fatalf("only %d successful uses in 3000 sequences", uses)
	}
	t.Logf("%d successful uses checked", uses)
}

// FuzzGrantMachine drives the same property from fuzzer bytes.
func FuzzGrantMachine(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 3, 1, 1, 1, 5, 0, 0, 0, 0})
	f.Add([]byte("request approve use expire revoke"))
	f.Fuzz(func(t *testing.T, in []byte) {
		i := 0
		runMachine(t, func(n int) int {
			if i >= len(in) {
				return 0
			}
			i++
			return int(in[i-1]) % n
		})
	})
}

// FuzzDecodeGrant: the stored-grant decoder never panics and never accepts
// an approved grant that its requester approved.
func FuzzDecodeGrant(f *testing.F) {
	m := perm.NewMatrix()
	g, _ := New("g-1", footage(), alice, m, lim, t0)
	v, _ := g.MarshalMsg(nil)
	f.Add(v)
	g.Approve(bob, m, t0)
	v, _ = g.MarshalMsg(nil)
	f.Add(v)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, in []byte) {
		g, err := Decode(in)
		if err != nil {
			return
		}
		if g.Status == Approved {
			for _, a := range g.Approvals {
				if a.By == g.Requester && !a.Bootstrap {
					t.Fatal("self-approved grant accepted")
				}
			}
		}
	})
}
