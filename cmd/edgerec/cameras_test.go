package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/rules"
	"github.com/edgerec/edgerec/storage"
)

type auditLog struct{ events []audit.Event }

func (a *auditLog) Audit(ctx context.Context, e audit.Event) (audit.Record, error) {
	a.events = append(a.events, e)
	return audit.Record{}, nil
}

// TestCameraManagerChanges: add, mask, update and remove cameras at run
// time: each change is validated as a whole config (a bad one changes
// nothing, not even the file), persisted atomically and applied to the
// running pipelines; a prohibited zone or a taken id is refused (R1, R2).
func TestCameraManagerChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Demo(dir)
	cfg.Cameras[0].Source = "test://pattern?width=320&height=240&fps=15"
	path := filepath.Join(dir, "edgerec.yaml")
	data, _ := cfg.Marshal()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tr := health.NewTracker("demo", "t", nil)
	al := &auditLog{}
	fatal := make(chan error, 1)
	m := newCameraManager(ctx, cfg, path, st, tr, al, slog.New(slog.DiscardHandler), time.Second, fatal)
	m.propDir = filepath.Join(dir, "coverage")
	m.StartAll()

	cam2 := cfg.Cameras[0]
	cam2.ID, cam2.Name, cam2.Masks = "cam2", "Back door", nil
	if err := m.AddCamera(ctx, "u-installer", cam2); err != nil {
		t.Fatal(err)
	}
	bad := cam2
	bad.ID = "cam3"
	bad.Source = "foo://x"
	before, _ := os.ReadFile(path)
	if err := m.AddCamera(ctx, "u-installer", bad); err == nil || !strings.Contains(err.Error(), "cameras[2].source") {
		t.Fatalf("bad camera: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("a refused change rewrote the config file")
	}
	if err := m.SetMasks(ctx, "u-installer", "cam2", []config.Mask{{Name: "w", Style: "fill", Polygon: [][]float64{{0.1, 0.1}, {0.5, 0.1}, {0.5, 0.5}}}}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetMasks(ctx, "u-installer", "cam2", []config.Mask{{Name: "w", Polygon: [][]float64{{0.1, 0.1}, {1.5, 0.1}, {0.5, 0.5}}}}); err == nil {
		t.Fatal("mask outside 0..1 accepted")
	}
	if err := m.SetMasks(ctx, "u", "nope", nil); !errors.Is(err, ErrUnknownCamera) {
		t.Fatalf("unknown camera: %v", err)
	}
	wc := cam2
	wc.ID, wc.Zone = "wc", "toilet"
	if err := m.AddCamera(ctx, "u-installer", wc); !errors.Is(err, rules.ErrProhibitedZone) {
		t.Fatalf("prohibited zone added: %v", err)
	}
	if err := m.AddCamera(ctx, "u-installer", cam2); !errors.Is(err, web.ErrCameraExists) {
		t.Fatalf("duplicate id: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	states := map[string]health.CameraState{}
	for _, c := range tr.Snapshot().Cameras {
		states[c.ID] = c.State
	}
	if states["demo1"] != health.StateRecording || states["cam2"] != health.StateRecording || states["wc"] != "" {
		t.Fatalf("states %v", states)
	}
	if _, _, err := m.Snapshot(ctx, "cam2"); err != nil {
		t.Fatal(err)
	}
	// Removing a camera waits for an approved coverage grant (R27,
	// TestR27CoverageReductionsWait): nothing changes here.
	var na *web.NeedsApproval
	if err := m.RemoveCamera(ctx, "u-installer", "cam2"); !errors.As(err, &na) || na.Change.Kind != "remove" {
		t.Fatalf("remove applied by one person: %v", err)
	}
	reloaded, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range reloaded.Cameras {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "demo1,cam2" {
		t.Fatalf("persisted cameras %v", ids)
	}
	// The LAN page audits changes with the person; the manager audits only
	// its own policy decisions (refusals at start, TestProvisionRun…).
	if len(al.events) != 0 {
		t.Fatalf("manager audited %v", al.events)
	}
	cancel()
	m.Wait()
	segs, _ := st.Segments(context.Background(), "cam2", time.Time{}, time.Now().Add(time.Hour))
	if len(segs) == 0 {
		t.Fatal("cam2 recorded nothing")
	}
}
