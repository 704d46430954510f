package cameras

import (
	"context"
	"errors"
	"image"
	"os"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
)

func sqMask(name string, style mask.Style, x0, y0, x1, y1 float64) config.Mask {
	return fileMasks([]mask.Mask{square(name, style, x0, y0, x1, y1)})[0]
}

// TestClassifyChange: what applies at once and what waits for an approved
// coverage grant (R27).
func TestClassifyChange(t *testing.T) {
	base := config.Camera{ID: "cam1", Source: "test://pattern", Zone: "entrance",
		Masks: []config.Mask{sqMask("w", mask.StyleFill, 0.1, 0.1, 0.4, 0.4), sqMask("d", mask.StylePixelate, 0.6, 0.5, 0.9, 0.9)}}
	office := []config.ScheduleWindow{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "08:00", To: "19:00"}}
	mod := func(f func(c *config.Camera)) *config.Camera {
		c := base
		c.Masks = append([]config.Mask(nil), base.Masks...)
		f(&c)
		return &c
	}
	cases := []struct {
		name          string
		before, after *config.Camera
		want          string
	}{
		{"add camera", nil, &base, ""},
		{"unchanged", &base, mod(func(c *config.Camera) {}), ""},
		{"rename, retention, signage", &base, mod(func(c *config.Camera) {
			c.Name, c.Retention, c.Signage.AttestedBy = "x", config.Duration(40*24*time.Hour), "B"
		}), ""},
		{"add mask", &base, mod(func(c *config.Camera) { c.Masks = append(c.Masks, sqMask("n", mask.StyleFill, 0, 0.8, 0.2, 1)) }), ""},
		{"enlarge mask", &base, mod(func(c *config.Camera) { c.Masks[0] = sqMask("w", mask.StyleFill, 0.05, 0.05, 0.45, 0.45) }), ""},
		{"pixelate to fill", &base, mod(func(c *config.Camera) { c.Masks[1].Style = mask.StyleFill }), ""},
		{"style default is fill", &base, mod(func(c *config.Camera) { c.Masks[0].Style = "" }), ""},
		{"remove camera", &base, nil, grants.KindRemove},
		{"delete mask", &base, mod(func(c *config.Camera) { c.Masks = c.Masks[1:] }), grants.KindMaskReduce},
		{"delete all masks", &base, mod(func(c *config.Camera) { c.Masks = nil }), grants.KindMaskReduce},
		{"shrink mask", &base, mod(func(c *config.Camera) { c.Masks[0] = sqMask("w", mask.StyleFill, 0.1, 0.1, 0.4, 0.35) }), grants.KindMaskReduce},
		{"fill to pixelate", &base, mod(func(c *config.Camera) { c.Masks[0].Style = mask.StylePixelate }), grants.KindMaskReduce},
		{"add one, delete another", &base, mod(func(c *config.Camera) {
			c.Masks = []config.Mask{c.Masks[1], sqMask("n", mask.StyleFill, 0, 0.8, 0.2, 1)}
		}), grants.KindMaskReduce},
		{"zone change", &base, mod(func(c *config.Camera) { c.Zone = "corridor" }), grants.KindZone},
		{"source change", &base, mod(func(c *config.Camera) { c.Source = "test://pattern?fps=5" }), grants.KindSource},
		// Issue 18 (R30, R27): a schedule that records less waits.
		{"add a schedule", &base, mod(func(c *config.Camera) { c.Schedule = office }), grants.KindSchedule},
		{"remove the schedule", mod(func(c *config.Camera) { c.Schedule = office }), &base, ""},
		{"widen the window", mod(func(c *config.Camera) { c.Schedule = office }), mod(func(c *config.Camera) {
			c.Schedule = []config.ScheduleWindow{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat"}, From: "07:00", To: "20:00"}}
		}), ""},
		{"shorten the window", mod(func(c *config.Camera) { c.Schedule = office }), mod(func(c *config.Camera) {
			c.Schedule = []config.ScheduleWindow{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "08:00", To: "17:00"}}
		}), grants.KindSchedule},
	}
	for _, c := range cases {
		if got := classifyChange(c.before, c.after); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// covRig is a manager over a real policy store, real storage and a real
// pipeline, with an approver ("boss") and an installer.
type covRig struct {
	*rig
	m    *Manager
	ps   *policy.Store
	boss string
	inst string
}

func newCovRig(t *testing.T) *covRig {
	t.Helper()
	r := newRig(t)
	ctx := r.ctx
	if _, err := policy.Provision(ctx, r.dir, r.st.Vault()); err != nil {
		t.Fatal(err)
	}
	ps, err := policy.Open(ctx, policy.Config{DataDir: r.dir}, policy.Deps{Sealer: r.st.Vault()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	const pwd = "correct horse battery"
	admin, err := ps.Bootstrap(ctx, "alice", []byte(pwd))
	if err != nil {
		t.Fatal(err)
	}
	person := func(name string, role perm.Role, approver string) string {
		id, err := ps.CreateUser(ctx, admin.ID, name, []byte("one-time from the admin"))
		if err != nil {
			t.Fatal(err)
		}
		if err := ps.SetPassword(ctx, id, id, []byte("one-time from the admin"), []byte(pwd)); err != nil {
			t.Fatal(err)
		}
		g, err := ps.Request(ctx, admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "staff", Validity: 30 * 24 * time.Hour, Subject: id, Role: string(role)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ps.Approve(ctx, approver, g.ID); err != nil {
			t.Fatal(err)
		}
		return id
	}
	boss := person("bob", perm.Approver, admin.ID)
	inst := person("ian", perm.Installer, boss)
	m := r.manager(Deps{Audit: ps, Coverage: ps})
	run(t, ctx, m)
	return &covRig{rig: r, m: m, ps: ps, boss: boss, inst: inst}
}

// lumaRange returns the luma values inside x0..x1 × y0..y1 (normalized) of
// the camera's latest masked picture.
func lumaRange(t *testing.T, m *Manager, cam string, x0, y0, x1, y1 float64) (lo, hi uint8) {
	t.Helper()
	var img image.Image
	var err error
	for i := 0; i < 50; i++ {
		if img, _, err = m.Snapshot(context.Background(), cam); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	y := img.(*image.YCbCr)
	b := y.Bounds()
	lo, hi = 255, 0
	for py := int(y0 * float64(b.Dy())); py < int(y1*float64(b.Dy())); py++ {
		for px := int(x0 * float64(b.Dx())); px < int(x1*float64(b.Dx())); px++ {
			v := y.Y[y.YOffset(px, py)]
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	return lo, hi
}

// windowLuma returns the luma values inside the demo's "window" fill mask
// (0.05..0.35 × 0.08..0.40) of the camera's latest masked picture.
func (r *covRig) windowLuma(t *testing.T, cam string) (lo, hi uint8) {
	t.Helper()
	return lumaRange(t, r.m, cam, 0.08, 0.12, 0.32, 0.36)
}

func (r *covRig) auditCount(t *testing.T, action, grant string) int {
	t.Helper()
	recs, err := r.ps.AuditAfter(r.ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rec := range recs {
		if rec.Action == action && (grant == "" || rec.Grant == grant) && rec.Result == "ok" {
			n++
		}
	}
	return n
}

// TestR27CoverageReductionsWait: an installer alone cannot remove a camera,
// delete, shrink or weaken a mask, or change a zone: each is kept as a
// proposal, the config file and the running pipeline stay as they were
// (the window is still filled); adding a camera or a mask applies at once.
// An approver's approval applies exactly the proposed change, audited with
// the grant id; the requester cannot approve; a proposal overtaken by
// another change is refused and revoked (issue 12 finding 8, R27).
func TestR27CoverageReductionsWait(t *testing.T) {
	r := newCovRig(t)
	ctx, m := r.ctx, r.m
	before, _ := os.ReadFile(r.path)
	cam, _ := m.Camera("demo1")
	if lo, hi := r.windowLuma(t, "demo1"); lo != hi || hi > 20 {
		t.Fatalf("window not filled at start: luma %d..%d", lo, hi)
	}
	window, door := cam.Masks[0].Mask(), cam.Masks[1].Mask()
	shrunk := window
	shrunk.Polygon = []mask.Point{{X: 0.05, Y: 0.08}, {X: 0.35, Y: 0.08}, {X: 0.35, Y: 0.30}, {X: 0.05, Y: 0.30}}
	pixel := window
	pixel.Style = mask.StylePixelate
	zoned := cam
	zoned.Zone = "corridor"
	attacks := map[string]func() error{
		"delete mask":      func() error { return m.SetMasks(ctx, "demo1", mustSet(t, []mask.Mask{door})) },
		"shrink mask":      func() error { return m.SetMasks(ctx, "demo1", mustSet(t, []mask.Mask{shrunk, door})) },
		"fill to pixelate": func() error { return m.SetMasks(ctx, "demo1", mustSet(t, []mask.Mask{pixel, door})) },
		"zone change":      func() error { return m.Update(ctx, zoned) },
		"remove camera":    func() error { return m.Remove(ctx, "demo1") },
	}
	pending := map[string]web.CoverageChange{}
	for name, attack := range attacks {
		var na *web.NeedsApproval
		if err := attack(); !errors.As(err, &na) {
			t.Fatalf("%s applied by one person: %v", name, err)
		}
		pending[name] = na.Change
		if after, _ := os.ReadFile(r.path); string(after) != string(before) {
			t.Fatalf("%s rewrote the config file", name)
		}
		if now, _ := m.Camera("demo1"); cameraDigest(&now) != cameraDigest(&cam) {
			t.Fatalf("%s changed the camera", name)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if lo, hi := r.windowLuma(t, "demo1"); lo != hi || hi > 20 {
		t.Fatalf("window not filled after the refused changes: luma %d..%d", lo, hi)
	}

	// The requester files it; the requester cannot approve; the approver can.
	c := pending["delete mask"]
	g, err := r.ps.Request(ctx, r.inst, grants.Request{Action: grants.Coverage, Purpose: "window bricked up", Validity: time.Hour,
		Cameras: []string{c.Camera}, Kind: c.Kind, Digest: c.Digest})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyCoverage(ctx, g.ID, r.inst); !errors.Is(err, grants.ErrNotActive) {
		t.Fatalf("applied before approval: %v", err)
	}
	if _, err := r.ps.Approve(ctx, r.inst, g.ID); !errors.Is(err, grants.ErrSelfApproval) {
		t.Fatalf("requester approved: %v", err)
	}
	if _, err := r.ps.Approve(ctx, r.boss, g.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyCoverage(ctx, g.ID, r.boss); err != nil {
		t.Fatal(err)
	}
	now, _ := m.Camera("demo1")
	if len(now.Masks) != 1 || now.Masks[0].Name != "door" {
		t.Fatalf("masks after approval: %+v", now.Masks)
	}
	reloaded, err := config.Load(r.path)
	if err != nil || len(reloaded.Cameras[0].Masks) != 1 {
		t.Fatalf("persisted: %v %+v", err, reloaded)
	}
	if r.auditCount(t, "coverage.apply", g.ID) != 1 || r.auditCount(t, "grant.use.coverage", g.ID) != 1 {
		t.Fatal("applying is not audited with the grant id")
	}
	if err := m.ApplyCoverage(ctx, g.ID, r.boss); err == nil {
		t.Fatal("applied twice")
	}
	time.Sleep(500 * time.Millisecond)
	if lo, hi := r.windowLuma(t, "demo1"); lo == hi {
		t.Fatalf("window still uniform (%d) after the approved deletion", lo)
	}

	// Proposals made against the old camera are stale now: refused, revoked.
	c = pending["zone change"]
	g2, err := r.ps.Request(ctx, r.inst, grants.Request{Action: grants.Coverage, Purpose: "p", Validity: time.Hour, Cameras: []string{c.Camera}, Kind: c.Kind, Digest: c.Digest})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ps.Approve(ctx, r.boss, g2.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyCoverage(ctx, g2.ID, r.boss); !errors.Is(err, web.ErrCoverageConflict) {
		t.Fatalf("stale proposal: %v", err)
	}
	if got, _ := r.ps.Grant(ctx, g2.ID); got.Status != grants.Revoked {
		t.Fatalf("stale grant %s", got.Status)
	}
	if now, _ := m.Camera("demo1"); now.Zone != "entrance" {
		t.Fatal("stale zone change applied")
	}

	// Adding coverage applies at once.
	if err := m.SetMasks(ctx, "demo1", mustSet(t, []mask.Mask{door, window})); err != nil {
		t.Fatalf("adding a mask: %v", err)
	}
	cam2 := cam
	cam2.ID, cam2.Masks = "cam2", nil
	if err := m.Add(ctx, cam2); err != nil {
		t.Fatalf("adding a camera: %v", err)
	}
	reloaded, _ = config.Load(r.path)
	if len(reloaded.Cameras) != 2 || len(reloaded.Cameras[0].Masks) != 2 {
		t.Fatalf("at-once changes not persisted: %+v", reloaded.Cameras)
	}
	time.Sleep(500 * time.Millisecond)
	if lo, hi := r.windowLuma(t, "demo1"); lo != hi || hi > 20 {
		t.Fatalf("window not filled after re-adding the mask: luma %d..%d", lo, hi)
	}
}
