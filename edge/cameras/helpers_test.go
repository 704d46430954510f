package cameras

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/storage"
)

// auditLog is an Auditor that keeps what it is given.
type auditLog struct{ events []audit.Event }

func (a *auditLog) Audit(ctx context.Context, e audit.Event) (audit.Record, error) {
	a.events = append(a.events, e)
	return audit.Record{}, nil
}

// rig is a provisioned recording store in a temp dir and the demo config
// with a 320×240 test pattern camera, written as the device's own file.
type rig struct {
	ctx     context.Context
	dir     string
	path    string
	data    []byte // the config file as written
	cfg     *config.Config
	st      *storage.Store
	tracker *health.Tracker
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg := config.Demo(dir)
	cfg.Cameras[0].Source = "test://pattern?width=320&height=240&fps=15"
	path := filepath.Join(dir, "edgerec.yaml")
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteConfigFile(path, data, cfg); err != nil {
		t.Fatal(err)
	}
	return &rig{ctx: ctx, dir: dir, path: path, data: data, cfg: cfg, st: st, tracker: health.NewTracker("demo", "t", nil)}
}

// manager is a manager of the rig's config with deps filled in from the
// rig where left empty.
func (r *rig) manager(deps Deps) *Manager {
	if deps.Store == nil {
		deps.Store = r.st
	}
	if deps.Health == nil {
		deps.Health = r.tracker
	}
	return New(Config{File: r.cfg, Path: r.path, DataDir: r.dir, SegmentLength: time.Second, MaxAccessUnit: storage.MaxFrameSize}, deps)
}

// run runs m until the test ends (then waits for its segments to close).
func run(t *testing.T, ctx context.Context, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	select {
	case <-m.Started():
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		m.Wait()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// grepDir fails the test for every file under dir whose raw bytes hold
// needle.
func grepDir(t *testing.T, dir, needle string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(needle)) {
			t.Errorf("%s holds %q in clear", p, needle)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mustSet is ms as the validated set the manager takes.
func mustSet(t *testing.T, ms []mask.Mask) mask.Set {
	t.Helper()
	s, err := mask.NewSet(ms)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
