package policy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/password"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/sealtest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var ctx = context.Background()

type env struct {
	dir   string
	s     *Store
	clk   *fakeClock
	logs  *bytes.Buffer
	admin Principal
	ids   map[string]string // name → id

	seal *sealtest.Sealer // this device's vault

	secMu sync.Mutex
	sec   []SecurityEvent // Deps.Security reports
}

func (e *env) securityCodes() []string {
	e.secMu.Lock()
	defer e.secMu.Unlock()
	var out []string
	for _, s := range e.sec {
		out = append(out, s.Code)
	}
	return out
}

func fastParams() password.Params {
	return password.Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16}
}

func newEnv(t *testing.T, p password.Params) *env { return newEnvB(t, p) }

func newEnvB(t testing.TB, p password.Params) *env {
	t.Helper()
	dir := t.TempDir()
	seal := sealtest.New()
	if _, err := Provision(ctx, dir, seal); err != nil {
		t.Fatal(err)
	}
	e := &env{dir: dir, seal: seal, clk: &fakeClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}, logs: &bytes.Buffer{}, ids: map[string]string{}}
	s, err := Open(ctx, Config{DataDir: dir, Password: p, Limits: grants.Limits{MaxValidity: 72 * time.Hour}},
		Deps{Now: e.clk.Now, Log: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Security: func(ev SecurityEvent) { e.secMu.Lock(); e.sec = append(e.sec, ev); e.secMu.Unlock() }, Sealer: seal})
	if err != nil {
		t.Fatal(err)
	}
	s.db.NoSync = true
	t.Cleanup(func() { s.Close() })
	e.s = s
	e.admin, err = s.Bootstrap(ctx, "admin", []byte("admin-password-1"))
	if err != nil {
		t.Fatal(err)
	}
	e.ids["admin"] = e.admin.ID
	return e
}

// user creates name with role through the four-eyes flow; the approver
// "boss" is bootstrapped on first use.
func (e *env) user(t *testing.T, name string, role perm.Role, cams ...string) string {
	t.Helper()
	id, err := e.s.CreateUser(ctx, e.admin.ID, name, []byte(name+"-one-time"))
	if err != nil {
		t.Fatal(err)
	}
	// The owner replaces the one-time password the admin chose (issue 12).
	if err := e.s.SetPassword(ctx, id, id, []byte(name+"-one-time"), []byte(name+"-password")); err != nil {
		t.Fatal(err)
	}
	approver := e.ids["boss"]
	if approver == "" {
		approver = e.admin.ID // bootstrap: the first approver
	}
	e.ids[name] = id
	g, err := e.s.Request(ctx, e.admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "staffing", Validity: 24 * time.Hour * 30,
		Subject: id, Role: string(role), Cameras: cams})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Approve(ctx, approver, g.ID); err != nil {
		t.Fatalf("approve role %s for %s: %v", role, name, err)
	}
	return id
}

func (e *env) verify(t *testing.T) audit.Report {
	t.Helper()
	r, err := e.s.VerifyAudit(ctx)
	if err != nil || !r.OK() {
		t.Fatalf("audit: %v %s", err, r)
	}
	return r
}

// TestR11R12R15EndToEnd walks the whole flow through the store.
func TestR11R12R15EndToEnd(t *testing.T) {
	e := newEnv(t, fastParams())
	if _, err := e.s.Approve(ctx, e.admin.ID, "g-nope"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	boss := e.user(t, "boss", perm.Approver) // bootstrap approver
	op := e.user(t, "op", perm.Operator, "cam-1", "cam-2")
	inst := e.user(t, "inst", perm.Installer)
	aud := e.user(t, "aud", perm.Auditor)

	// R11 via Allowed: the matrix plus per-user conditions.
	for _, c := range []struct {
		who  string
		p    perm.Permission
		cam  string
		want bool
	}{
		{inst, perm.CameraLive, "cam-9", true},
		{e.admin.ID, perm.CameraLive, "", false},
		{e.admin.ID, perm.Playback, "cam-1", false},
		{aud, perm.AuditRead, "", true},
		{aud, perm.CameraLive, "", false},
		{boss, perm.Playback, "cam-1", false}, // grant-only
		{op, perm.CameraLive, "cam-1", false}, // R15: no training date yet
		{e.admin.ID, perm.UsersManage, "", true},
		{"u-unknown", perm.HealthRead, "", false},
	} {
		if got := e.s.Allowed(ctx, c.who, c.p, c.cam); got != c.want {
			t.Errorf("Allowed(%s, %s, %q) = %v, want %v", c.who, c.p, c.cam, got, c.want)
		}
	}
	// R15: training date enables video for the operator, within scope.
	if err := e.s.SetTraining(ctx, e.admin.ID, op, e.clk.Now().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !e.s.Allowed(ctx, op, perm.CameraLive, "cam-1") || e.s.Allowed(ctx, op, perm.CameraLive, "cam-3") {
		t.Fatal("operator live view after training / camera scope")
	}

	// R12: request, four eyes, use in scope, expiry, revoke.
	from, to := e.clk.Now().Add(-10*time.Hour), e.clk.Now().Add(-9*time.Hour)
	g, err := e.s.Request(ctx, op, grants.Request{Action: grants.Playback, Purpose: "theft report 7", Validity: 2 * time.Hour,
		Cameras: []string{"cam-1"}, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(g.ID, "g-") {
		t.Fatal(g.ID)
	}
	if err := e.s.UseGrant(ctx, g.ID, op, grants.Playback, "cam-1", from, to); !errors.Is(err, grants.ErrNotActive) {
		t.Fatalf("use before approval: %v", err)
	}
	if _, err := e.s.Approve(ctx, op, g.ID); !errors.Is(err, grants.ErrSelfApproval) {
		t.Fatalf("self approval: %v", err)
	}
	if _, err := e.s.Approve(ctx, e.admin.ID, g.ID); !errors.Is(err, grants.ErrNotApprover) {
		t.Fatalf("admin approval: %v", err)
	}
	if _, err := e.s.Approve(ctx, boss, g.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseGrant(ctx, g.ID, op, grants.Playback, "cam-1", from, to); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"other camera": e.s.UseGrant(ctx, g.ID, op, grants.Playback, "cam-2", from, to),
		"export":       e.s.UseGrant(ctx, g.ID, op, grants.Export, "cam-1", from, to),
		"wider range":  e.s.UseGrant(ctx, g.ID, op, grants.Playback, "cam-1", from.Add(-time.Minute), to),
		"other user":   e.s.UseGrant(ctx, g.ID, boss, grants.Playback, "cam-1", from, to),
		"admin":        e.s.UseGrant(ctx, g.ID, e.admin.ID, grants.Playback, "cam-1", from, to),
	} {
		if err == nil {
			t.Errorf("%s: use allowed", name)
		}
	}
	e.clk.Add(2 * time.Hour)
	if err := e.s.UseGrant(ctx, g.ID, op, grants.Playback, "cam-1", from, to); !errors.Is(err, grants.ErrNotActive) {
		t.Fatalf("use after expiry: %v", err)
	}
	g2, _ := e.s.Request(ctx, op, grants.Request{Action: grants.Export, Purpose: "police", Validity: time.Hour, Cameras: []string{"cam-2"}, From: from, To: to})
	e.s.Approve(ctx, boss, g2.ID)
	if _, err := e.s.Revoke(ctx, boss, g2.ID, "police withdrew"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseGrant(ctx, g2.ID, op, grants.Export, "cam-2", from, to); !errors.Is(err, grants.ErrNotActive) {
		t.Fatalf("use after revoke: %v", err)
	}
	// Decommission: an admin requests, an approver approves.
	d, err := e.s.Request(ctx, e.admin.ID, grants.Request{Action: grants.Decommission, Purpose: "branch closed", Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Approve(ctx, boss, d.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.UseGrant(ctx, d.ID, e.admin.ID, grants.Decommission, "", time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}

	// Audit: every use cites the grant; ids only; chain verifies.
	rep := e.verify(t)
	recs, err := e.s.AuditAfter(ctx, 0, 1000)
	if err != nil || uint64(len(recs)) != rep.Records {
		t.Fatal(err)
	}
	uses := 0
	for _, r := range recs {
		if strings.HasPrefix(r.Action, "grant.use.") {
			uses++
			if r.Grant == "" {
				t.Errorf("use without grant id: %+v", r)
			}
		}
	}
	if uses != 10 {
		t.Errorf("%d use records, want 10 (each use or refused use)", uses)
	}
	if seq, h := e.s.Head(); seq != rep.HeadSeq || h != rep.HeadHash {
		t.Fatal("head")
	}
	got, _ := e.s.Grant(ctx, g.ID)
	if got.Uses != 1 {
		t.Errorf("uses = %d", got.Uses)
	}
}

// TestR13RoleChangeRevoke: a role change supersedes (revokes) the previous
// assignment; revoking removes the role; roles expire; the bootstrap
// exception is closed once an approver exists.
func TestR13RoleChangeRevoke(t *testing.T) {
	e := newEnv(t, fastParams())
	boss := e.user(t, "boss", perm.Approver)
	u := e.user(t, "pat", perm.Operator)
	p, _ := e.s.Principal(ctx, u)
	first := p.Role
	g, err := e.s.Request(ctx, e.admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "moved to audit", Validity: time.Hour, Subject: u, Role: "auditor"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Approve(ctx, boss, g.ID); err != nil {
		t.Fatal(err)
	}
	p, _ = e.s.Principal(ctx, u)
	if first != perm.Operator || p.Role != perm.Auditor {
		t.Fatalf("roles %s → %s", first, p.Role)
	}
	all, _ := e.s.Grants(ctx)
	revoked := 0
	for _, x := range all {
		if x.Action == grants.AssignRole && x.Subject == u && x.Status == grants.Revoked && strings.Contains(x.Reason, g.ID) {
			revoked++
		}
	}
	if revoked != 1 {
		t.Fatalf("previous assignment not revoked (%d)", revoked)
	}
	e.clk.Add(time.Hour)
	if p, _ = e.s.Principal(ctx, u); p.Role != "" || e.s.Allowed(ctx, u, perm.AuditRead, "") {
		t.Fatal("role did not expire")
	}
	// Revoke removes the role at once.
	g, _ = e.s.Request(ctx, e.admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "back", Validity: time.Hour, Subject: u, Role: "auditor"})
	e.s.Approve(ctx, boss, g.ID)
	if !e.s.Allowed(ctx, u, perm.AuditRead, "") {
		t.Fatal("not reassigned")
	}
	if _, err := e.s.Revoke(ctx, e.admin.ID, g.ID, ""); !errors.Is(err, grants.ErrInvalid) {
		t.Fatalf("revoke without reason: %v", err)
	}
	if _, err := e.s.Revoke(ctx, e.admin.ID, g.ID, "left the company"); err != nil {
		t.Fatal(err)
	}
	if e.s.Allowed(ctx, u, perm.AuditRead, "") {
		t.Fatal("revoked role still works")
	}
	// Bootstrap exception closed: the admin cannot self-approve a second approver.
	v := e.user(t, "vic", perm.Operator)
	g, _ = e.s.Request(ctx, e.admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "x", Validity: time.Hour, Subject: v, Role: "approver"})
	if _, err := e.s.Approve(ctx, e.admin.ID, g.ID); !errors.Is(err, grants.ErrSelfApproval) {
		t.Fatalf("second bootstrap: %v", err)
	}
	// Approval of an expired request.
	e.clk.Add(73 * time.Hour)
	if _, err := e.s.Approve(ctx, boss, g.ID); !errors.Is(err, grants.ErrRequestExpired) {
		t.Fatalf("approve lapsed: %v", err)
	}
	e.verify(t)
}

// snapshot returns every key/value of the database except the audit
// buckets, to show that refused input changes nothing.
func snapshot(t *testing.T, s *Store) string {
	var b strings.Builder
	s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			return bk.ForEach(func(k, v []byte) error {
				b.WriteString(string(name) + "/" + string(k) + "=" + string(v) + "\n")
				return nil
			})
		})
	})
	return b.String()
}

// TestBadInput: clear errors, nothing written (R11, R12).
func TestBadInput(t *testing.T) {
	e := newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver)
	op := e.user(t, "op", perm.Operator)
	now := e.clk.Now()
	req := func(f func(*grants.Request)) grants.Request {
		r := grants.Request{Action: grants.Playback, Purpose: "p", Validity: time.Hour, Cameras: []string{"cam-1"}, From: now.Add(-2 * time.Hour), To: now.Add(-time.Hour)}
		f(&r)
		return r
	}
	before := snapshot(t, e.s)
	for _, c := range []struct {
		name string
		do   func() error
		want string
	}{
		{"unknown role", func() error {
			_, err := e.s.Request(ctx, e.admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "p", Validity: time.Hour, Subject: op, Role: "superuser"})
			return err
		}, `role "superuser": unknown role`},
		{"inverted range", func() error {
			_, err := e.s.Request(ctx, op, req(func(r *grants.Request) { r.From, r.To = r.To, r.From }))
			return err
		}, "is not before"},
		{"unbounded range", func() error {
			_, err := e.s.Request(ctx, op, req(func(r *grants.Request) { r.To = time.Time{} }))
			return err
		}, "unbounded"},
		{"validity over max", func() error {
			_, err := e.s.Request(ctx, op, req(func(r *grants.Request) { r.Validity = 100 * time.Hour }))
			return err
		}, "exceeds the policy maximum 72h"},
		{"username control char", func() error {
			_, err := e.s.CreateUser(ctx, e.admin.ID, "eve\x1b[2J", []byte("long-enough-pw"))
			return err
		}, "control character"},
		{"username newline", func() error {
			_, err := e.s.CreateUser(ctx, e.admin.ID, "eve\n", []byte("long-enough-pw"))
			return err
		}, "control character"},
		{"short password", func() error { _, err := e.s.CreateUser(ctx, e.admin.ID, "eve", []byte("short")); return err }, "password shorter"},
		{"duplicate user", func() error { _, err := e.s.CreateUser(ctx, e.admin.ID, "op", []byte("long-enough-pw")); return err }, "exists"},
		{"operator creates user", func() error { _, err := e.s.CreateUser(ctx, op, "eve", []byte("long-enough-pw")); return err }, "lacks users.manage"},
		{"role for unknown user", func() error {
			_, err := e.s.Request(ctx, e.admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "p", Validity: time.Hour, Subject: "u-none", Role: "auditor"})
			return err
		}, "not found"},
		{"future training", func() error { return e.s.SetTraining(ctx, e.admin.ID, op, now.Add(time.Hour)) }, "in the future"},
		{"second bootstrap", func() error { _, err := e.s.Bootstrap(ctx, "root", []byte("long-enough-pw")); return err }, "users exist"},
	} {
		err := c.do()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", c.name, err, c.want)
		}
	}
	if after := snapshot(t, e.s); after != before {
		t.Fatal("refused input changed the database")
	}
}

// TestR22Authenticate: success, wrong password, unknown user and lockout all
// return the same error; the audit says which.
func TestR22Authenticate(t *testing.T) {
	e := newEnv(t, fastParams())
	p, err := e.s.Authenticate(ctx, "admin", []byte("admin-password-1"))
	if err != nil || p.ID != e.admin.ID || p.Role != perm.Admin {
		t.Fatal(p, err)
	}
	for _, c := range []struct{ user, pw string }{{"admin", "nope"}, {"ghost", "nope"}, {"bad\x00name", "x"}, {"", ""}} {
		if _, err := e.s.Authenticate(ctx, c.user, []byte(c.pw)); err != ErrBadCredentials {
			t.Errorf("%q: %v", c.user, err)
		}
	}
	for range 5 { // no account-wide lock by default (issue 12: the LAN page throttles per address × account)
		e.s.Authenticate(ctx, "admin", []byte("nope"))
	}
	if _, err := e.s.Authenticate(ctx, "admin", []byte("admin-password-1")); err != nil {
		t.Fatalf("default config locked the account: %v", err)
	}
	e.s.cfg.MaxFailures = 5 // the optional lock
	for range 5 {
		e.s.Authenticate(ctx, "admin", []byte("nope"))
	}
	if _, err := e.s.Authenticate(ctx, "admin", []byte("admin-password-1")); err != ErrBadCredentials {
		t.Fatal("locked account logged in")
	}
	e.clk.Add(16 * time.Minute)
	if _, err := e.s.Authenticate(ctx, "admin", []byte("admin-password-1")); err != nil {
		t.Fatal("lock did not end", err)
	}
	recs, _ := e.s.AuditAfter(ctx, 0, 1000)
	var details []string
	for _, r := range recs {
		if r.Action == "login" {
			details = append(details, r.Result+":"+r.Detail)
		}
	}
	if !slices.Contains(details, "failed:unknown user") || !slices.Contains(details, "failed:account locked after failed logins") {
		t.Fatal(details)
	}
	e.verify(t)
}

// TestR22LoginTimingDoesNotRevealUser: an unknown user costs the same as a
// wrong password (one argon2id check with the configured parameters). The
// medians must agree within a factor; the KDF dominates both.
func TestR22LoginTimingDoesNotRevealUser(t *testing.T) {
	e := newEnv(t, password.Params{Time: 1, Memory: 4 * 1024, Threads: 1, KeyLen: 32, SaltLen: 16})
	e.s.cfg.MaxFailures = 1 << 30
	// Interleave the two so background load hits both alike.
	var ks, us []time.Duration
	for i := range 22 {
		for _, user := range []string{"admin", "nobody-here"} {
			start := time.Now()
			e.s.Authenticate(ctx, user, []byte("wrong-password"))
			if i >= 2 { // warm-up
				if user == "admin" {
					ks = append(ks, time.Since(start))
				} else {
					us = append(us, time.Since(start))
				}
			}
		}
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	known, unknown := median(ks), median(us)
	ratio := float64(known) / float64(unknown)
	t.Logf("median wrong password %v, unknown user %v (ratio %.2f)", known, unknown, ratio)
	if ratio < 0.5 || ratio > 2 {
		t.Fatalf("timing differs: wrong password %v, unknown user %v", known, unknown)
	}
	if e.s.dummy.Params() != e.s.cfg.Password {
		t.Fatal("dummy hash parameters differ from the configured ones")
	}
}

// TestHashesNeverLogged: across every operation, neither logs nor audit
// records contain a password or a hash.
func TestHashesNeverLogged(t *testing.T) {
	e := newEnv(t, fastParams())
	boss := e.user(t, "boss", perm.Approver)
	e.s.Authenticate(ctx, "boss", []byte("boss-password"))
	e.s.Authenticate(ctx, "boss", []byte("typo-password"))
	e.s.Authenticate(ctx, "nobody", []byte("secret-guess"))
	e.s.SetPassword(ctx, boss, boss, []byte("boss-password"), []byte("new-boss-password"))
	// A damaged hash is reported without its content.
	e.s.db.Update(func(tx *bolt.Tx) error {
		u, _ := getUser(tx, boss)
		u.Hash = "$argon2id$v=19$m=1,t=1,p=1$bad$bad"
		return putUser(tx, &u)
	})
	e.s.Authenticate(ctx, "boss", []byte("new-boss-password"))
	var all strings.Builder
	all.WriteString(e.logs.String())
	recs, _ := e.s.AuditAfter(ctx, 0, 1000)
	for _, r := range recs {
		all.WriteString(r.Detail + r.Target + r.Actor)
	}
	us, _ := e.s.Users(ctx)
	for _, u := range us {
		slog.New(slog.NewTextHandler(&all, nil)).Info("user", "u", u)
	}
	out := all.String()
	for _, secret := range []string{"argon2id", "boss-password", "typo-password", "secret-guess", "admin-password"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q appears in logs or audit", secret)
		}
	}
}

// TestR14DisableStale: idle accounts are disabled after StaleAfter (not the
// last admin), audited, and can no longer log in.
func TestR14DisableStale(t *testing.T) {
	e := newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver)
	aud := e.user(t, "aud", perm.Auditor)
	e.clk.Add(60 * 24 * time.Hour)
	e.s.Authenticate(ctx, "boss", []byte("boss-password"))
	e.clk.Add(31 * 24 * time.Hour)
	rep, err := e.s.Review(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.String(), "STALE") {
		t.Fatal(rep.String())
	}
	ids, err := e.s.DisableStale(ctx)
	if err != nil || len(ids) != 1 || ids[0] != aud {
		t.Fatalf("disabled %v %v (want only aud; admin is the last admin, boss active)", ids, err)
	}
	if _, err := e.s.Authenticate(ctx, "aud", []byte("aud-password")); err != ErrBadCredentials {
		t.Fatal("disabled account logged in")
	}
	if e.s.Allowed(ctx, aud, perm.AuditRead, "") {
		t.Fatal("disabled account allowed")
	}
	e.verify(t)
}

// TestR16VerifyDir: `edgerec check` verifies the closed database read-only;
// an edited record fails at its sequence number; a locked database is
// reported, not waited on forever.
func TestR16VerifyDir(t *testing.T) {
	e := newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver)
	if _, err := VerifyDir(ctx, e.dir, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("verify while open: %v", err)
	}
	seq, _ := e.s.Head()
	e.s.Close()
	rep, err := VerifyDir(ctx, e.dir, nil)
	if err != nil || !rep.OK() || rep.HeadSeq != seq {
		t.Fatalf("%v %s", err, rep)
	}
	// Edit record 2 (user.create) in the file itself: every copy of it, as
	// bbolt may leave stale copies in free pages.
	path := filepath.Join(e.dir, DBFile)
	raw, _ := os.ReadFile(path)
	if bytes.Count(raw, []byte("user.create")) == 0 {
		t.Fatal("record not found in file")
	}
	os.WriteFile(path, bytes.ReplaceAll(raw, []byte("user.create"), []byte("user.CREATE")), 0o600)
	rep, err = VerifyDir(ctx, e.dir, nil)
	if err != nil || rep.OK() || rep.FirstBad != 2 || !strings.Contains(rep.String(), "seq 2") {
		t.Fatalf("%v %s", err, rep)
	}
}

// TestReopen: state survives close and reopen (bbolt commits are atomic).
func TestReopen(t *testing.T) {
	e := newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver)
	seq, h := e.s.Head()
	e.s.Close()
	s, err := Open(ctx, Config{DataDir: e.dir, Password: fastParams()}, Deps{Now: e.clk.Now, Sealer: e.seal})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, h2 := s.Head(); s2 != seq || h2 != h {
		t.Fatal("head changed")
	}
	if _, err := s.Authenticate(ctx, "boss", []byte("boss-password")); err != nil {
		t.Fatal(err)
	}
	if _, err := Provision(ctx, e.dir, e.seal); !errors.Is(err, ErrExists) {
		t.Fatal("provision over an existing store")
	}
}
