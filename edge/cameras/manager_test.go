package cameras

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy/rules"
)

func square(name string, style mask.Style, x0, y0, x1, y1 float64) mask.Mask {
	return mask.Mask{Name: name, Style: style, Polygon: []mask.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}}
}

// TestManagerChanges: add, mask, update and remove cameras at run time:
// each change is validated as a whole config (a bad one changes nothing,
// not even the file), persisted atomically and applied to the running
// pipelines; a prohibited zone or a taken id is refused (R1, R2).
func TestManagerChanges(t *testing.T) {
	r := newRig(t)
	ctx := r.ctx
	al := &auditLog{}
	m := r.manager(Deps{Audit: al})
	run(t, ctx, m)

	cam2 := r.cfg.Cameras[0]
	cam2.ID, cam2.Name, cam2.Masks = "cam2", "Back door", nil
	if err := m.Add(ctx, cam2); err != nil {
		t.Fatal(err)
	}
	bad := cam2
	bad.ID = "cam3"
	bad.Source = "foo://x"
	before := mustRead(t, r.path)
	if err := m.Add(ctx, bad); err == nil || !strings.Contains(err.Error(), "cameras[2].source") {
		t.Fatalf("bad camera: %v", err)
	}
	if after := mustRead(t, r.path); string(after) != string(before) {
		t.Fatal("a refused change rewrote the config file")
	}
	if err := m.SetMasks(ctx, "cam2", mustSet(t, []mask.Mask{{Name: "w", Style: "fill", Polygon: []mask.Point{{X: 0.1, Y: 0.1}, {X: 0.5, Y: 0.1}, {X: 0.5, Y: 0.5}}}})); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Camera("cam2"); len(got.Masks) != 1 || got.Masks[0].Polygon[1][0] != 0.5 {
		t.Fatalf("masks kept as %+v", got.Masks)
	}
	// A mask outside 0..1 never becomes a Set: it cannot reach the manager.
	if _, err := mask.NewSet([]mask.Mask{{Name: "w", Polygon: []mask.Point{{X: 0.1, Y: 0.1}, {X: 1.5, Y: 0.1}, {X: 0.5, Y: 0.5}}}}); !errors.Is(err, mask.ErrInvalid) {
		t.Fatalf("mask outside 0..1: %v", err)
	}
	if err := m.SetMasks(ctx, "nope", mask.Set{}); !errors.Is(err, ErrUnknownCamera) || !errors.Is(err, web.ErrUnknownCamera) {
		t.Fatalf("unknown camera: %v", err)
	}
	// Retention (R6) follows the cameras the manager has now: the new
	// camera is there, at the policy floor unless it says otherwise.
	ret := m.Retention()
	if len(ret) != 2 || ret["cam2"] != r.cfg.Retention().WithDefaults().Floor || ret[r.cfg.Cameras[0].ID] == 0 {
		t.Fatalf("retention %v", ret)
	}
	wc := cam2
	wc.ID, wc.Zone = "wc", "toilet"
	if err := m.Add(ctx, wc); !errors.Is(err, rules.ErrProhibitedZone) {
		t.Fatalf("prohibited zone added: %v", err)
	}
	if err := m.Add(ctx, cam2); !errors.Is(err, web.ErrCameraExists) {
		t.Fatalf("duplicate id: %v", err)
	}
	renamed, _ := m.Camera("cam2")
	renamed.Name = "Yard"
	if err := m.Update(ctx, renamed); err != nil {
		t.Fatalf("rename: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	states := map[string]health.CameraState{}
	for _, c := range r.tracker.Snapshot().Cameras {
		states[c.ID] = c.State
	}
	if states["demo1"] != health.StateRecording || states["cam2"] != health.StateRecording || states["wc"] != "" {
		t.Fatalf("states %v", states)
	}
	if m.Recording() != 2 {
		t.Fatalf("recording %d cameras", m.Recording())
	}
	if _, _, err := m.Snapshot(ctx, "cam2"); err != nil {
		t.Fatal(err)
	}
	feed, err := m.Subscribe("cam2")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-feed.C():
	case <-time.After(5 * time.Second):
		t.Fatal("no live access unit from cam2")
	}
	feed.Close()
	// Removing a camera waits for an approved coverage grant (R27,
	// TestR27CoverageReductionsWait): nothing changes here.
	var na *web.NeedsApproval
	if err := m.Remove(ctx, "cam2"); !errors.As(err, &na) || na.Change.Kind != "remove" {
		t.Fatalf("remove applied by one person: %v", err)
	}
	reloaded, err := config.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range reloaded.Cameras {
		ids = append(ids, c.ID+"="+c.Name)
	}
	if strings.Join(ids, ",") != "demo1=Demo camera,cam2=Yard" {
		t.Fatalf("persisted cameras %v", ids)
	}
	// The LAN page audits changes with the person; the manager audits only
	// its own policy decisions (refusals at start, TestManagerRefusesAtStart).
	if len(al.events) != 0 {
		t.Fatalf("manager audited %v", al.events)
	}
	m.StopAll() // decommission: segments closed, no camera starts again
	if m.Recording() != 0 {
		t.Fatal("cameras still running after StopAll")
	}
	segs, _ := r.st.Segments(context.Background(), "cam2", time.Time{}, time.Now().Add(time.Hour))
	if len(segs) == 0 {
		t.Fatal("cam2 recorded nothing")
	}
}

// TestManagerRefusesAtStart: a camera in a prohibited zone (R1) or without
// signage (R3) in the config file is refused at start: health says so with
// the reason, the refusal is audited with the rule and no camera name, and
// the other cameras record.
func TestManagerRefusesAtStart(t *testing.T) {
	r := newRig(t)
	wc := r.cfg.Cameras[0]
	wc.ID, wc.Zone, wc.Masks = "wc", "toilet", nil
	nosign := r.cfg.Cameras[0]
	nosign.ID, nosign.Signage, nosign.Masks = "nosign", config.Signage{}, nil
	r.cfg.Cameras = append(r.cfg.Cameras, wc, nosign)
	al := &auditLog{}
	m := New(Config{File: r.cfg, SegmentLength: time.Second}, Deps{Store: r.st, Health: r.tracker, Audit: al})
	run(t, r.ctx, m)
	if m.Recording() != 1 {
		t.Fatalf("recording %d cameras", m.Recording())
	}
	got := map[string]string{}
	for _, e := range al.events {
		if e.Action == "camera.refuse" && e.Actor == "device" {
			got[e.Target] = e.Detail
		}
	}
	if got["wc"] != "R1 prohibited zone" || got["nosign"] != "R3 signage attestation missing" || len(got) != 2 {
		t.Fatalf("refusals audited %v", got)
	}
	for _, c := range r.tracker.Snapshot().Cameras {
		if (c.ID == "wc" || c.ID == "nosign") && (c.State != health.StateRefused || c.Reason == "") {
			t.Errorf("%s: %s %q", c.ID, c.State, c.Reason)
		}
	}
}

// TestExternalEditDetected: a config file that is not what the device last
// wrote is audited once as "config.external_change" with the camera ids,
// raises "config.external", and is then recorded as seen (R16).
func TestExternalEditDetected(t *testing.T) {
	r := newRig(t)
	al := &auditLog{}
	m := r.manager(Deps{Audit: al})
	if err := m.CheckExternalEdit(r.ctx); err != nil || len(al.events) != 0 {
		t.Fatalf("own write reported: %v %v", err, al.events)
	}
	edited := strings.Replace(string(r.data), "Demo camera", "Front door", 1)
	if edited == string(r.data) {
		t.Fatal("no camera name to edit")
	}
	if err := os.WriteFile(r.path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = cfg
	m = r.manager(Deps{Audit: al})
	if err := m.CheckExternalEdit(r.ctx); err != nil {
		t.Fatal(err)
	}
	if len(al.events) != 1 || al.events[0].Action != "config.external_change" || al.events[0].Detail != "edited outside the device; changed=demo1" {
		t.Fatalf("audit %+v", al.events)
	}
	found := false
	for _, a := range r.tracker.Snapshot().Alerts {
		found = found || a.Code == "config.external"
	}
	if !found {
		t.Fatal("no config.external alert")
	}
	if err := m.CheckExternalEdit(r.ctx); err != nil || len(al.events) != 1 {
		t.Fatalf("one edit reported twice: %v %+v", err, al.events)
	}
	// A change through the manager is the device's own write.
	cam, _ := m.Camera("demo1")
	cam.Name = "Lobby"
	if err := m.Update(r.ctx, cam); err != nil {
		t.Fatal(err)
	}
	if err := m.CheckExternalEdit(r.ctx); err != nil || len(al.events) != 1 {
		t.Fatalf("own change reported: %v %+v", err, al.events)
	}
	if err := os.Remove(writtenPath(r.path)); err != nil {
		t.Fatal(err)
	}
	if err := m.CheckExternalEdit(r.ctx); err != nil || len(al.events) != 2 || !strings.HasPrefix(al.events[1].Detail, "no record of the device's own last write; cameras=demo1") {
		t.Fatalf("missing record: %v %+v", err, al.events)
	}
}

// TestSetMasksTakesWhatItValidated: the masks given to SetMasks are the
// masks the config keeps and the pipeline burns in (R2): a fill mask makes
// the snapshot uniform there at once, without a restart.
func TestSetMasksTakesWhatItValidated(t *testing.T) {
	r := newRig(t)
	r.cfg.Cameras[0].Masks = nil
	m := r.manager(Deps{})
	run(t, r.ctx, m)
	if err := m.SetMasks(r.ctx, "demo1", mustSet(t, []mask.Mask{square("all", mask.StyleFill, 0, 0, 1, 1)})); err != nil {
		t.Fatal(err)
	}
	var lo, hi uint8
	for i := 0; i < 50; i++ {
		if lo, hi = lumaRange(t, m, "demo1", 0.1, 0.1, 0.9, 0.9); lo == hi {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lo != hi {
		t.Fatalf("picture not filled after SetMasks: luma %d..%d", lo, hi)
	}
	if got, _ := m.Camera("demo1"); len(got.Masks) != 1 || got.Masks[0].Name != "all" {
		t.Fatalf("config masks %+v", got.Masks)
	}
}
