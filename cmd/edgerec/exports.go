package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/storage"
)

// exportKeep is how long a finished export stays on the device for
// download. An export is footage in the clear (masked, but decrypted), so
// it does not linger: it is deleted after this, or at the next start.
const exportKeep = time.Hour

// exporter runs exports for the LAN page (web.Exports): MP4 + signed
// manifest in <data>/exports (0700), one at a time per device.
type exporter struct {
	dir    string
	device func() *config.Config
	store  *storage.Store
	ps     *policy.Store
	log    *slog.Logger

	mu   sync.Mutex
	jobs map[string]*web.ExportStatus
	busy bool
}

func newExporter(dataDir string, device func() *config.Config, store *storage.Store, ps *policy.Store, log *slog.Logger) (*exporter, error) {
	dir := filepath.Join(dataDir, "exports")
	_ = os.RemoveAll(dir) // leftovers of an earlier run are not kept
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &exporter{dir: dir, device: device, store: store, ps: ps, log: log, jobs: map[string]*web.ExportStatus{}}, nil
}

func (x *exporter) paths(id string) (mp4, manifest string) {
	mp4 = filepath.Join(x.dir, id+".mp4")
	return mp4, export.ManifestPath(mp4)
}

// Start begins an export. The LAN page has checked and audited the export
// grant (UseGrant) before calling it.
func (x *exporter) Start(ctx context.Context, req web.ExportRequest) (web.ExportStatus, error) {
	x.mu.Lock()
	if x.busy {
		x.mu.Unlock()
		return web.ExportStatus{}, fmt.Errorf("%w: another export is running; try again when it is done", web.ErrUnavailable)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	st := &web.ExportStatus{ID: "x-" + hex.EncodeToString(b[:]), Grant: req.Grant, Camera: req.Camera, From: req.From, To: req.To, By: req.By, State: "running", Started: time.Now()}
	x.jobs[st.ID] = st
	x.busy = true
	out := *st
	x.mu.Unlock()
	go x.run(context.WithoutCancel(ctx), st.ID, req)
	return out, nil
}

func (x *exporter) update(id string, fn func(*web.ExportStatus)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if st, ok := x.jobs[id]; ok {
		fn(st)
	}
}

func (x *exporter) run(ctx context.Context, id string, req web.ExportRequest) {
	defer func() { x.mu.Lock(); x.busy = false; x.mu.Unlock() }()
	fail := func(err error) {
		x.log.Warn("export failed", "export", id, "err", err)
		x.update(id, func(s *web.ExportStatus) { s.State, s.Error = "failed", err.Error() })
	}
	cfg := x.device()
	var camName string
	for _, c := range cfg.Cameras {
		if c.ID == req.Camera {
			camName = c.Name
		}
	}
	g, err := x.ps.Grant(ctx, req.Grant)
	if err != nil {
		fail(err)
		return
	}
	names := userNames(ctx, x.ps)
	var approver string
	for _, a := range g.Approvals {
		approver = names[a.By]
	}
	vault := x.store.Vault()
	if vault == nil {
		fail(errors.New("the store has no vault"))
		return
	}
	key, err := devkey.Load(filepath.Dir(x.dir), vault)
	if err != nil {
		fail(err)
		return
	}
	defer clear(key)
	var opaque string
	if k, err := uplink.LoadOrCreateKey(uplink.KeyPath(filepath.Dir(x.dir))); err == nil {
		opaque = uplink.OpaqueID(k, req.Camera)
	}
	mp4, manifest := x.paths(id)
	tmp, err := os.CreateTemp(x.dir, ".tmp-*.mp4")
	if err != nil {
		fail(err)
		return
	}
	defer os.Remove(tmp.Name())
	seq, _ := x.ps.Head()
	m, err := export.Export(ctx, x.store, export.Request{
		Device: cfg.Device.ID, Camera: req.Camera, CameraName: camName, OpaqueCameraID: opaque,
		From: req.From, To: req.To, GrantID: req.Grant,
		Requester: names[g.Requester], Approver: approver, Exporter: names[req.By],
		AuditSeq: seq, FileName: id + ".mp4",
		// The LAN page used (and audited) the grant for exactly this
		// camera and range before Start.
		Authorizer: export.AuthorizerFunc(func(context.Context, string, string, time.Time, time.Time) error { return nil }),
	}, tmp, func(done, total time.Duration) {
		if total > 0 {
			x.update(id, func(s *web.ExportStatus) { s.Progress = float64(done) / float64(total) })
		}
	})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fail(err)
		return
	}
	doc, err := export.SignManifest(m, key)
	if err == nil {
		err = writeFileAtomic(manifest, doc, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), mp4)
	}
	if err != nil {
		fail(err)
		return
	}
	x.update(id, func(s *web.ExportStatus) { s.State, s.Progress, s.Bytes = "done", 1, m.File.Size })
	time.AfterFunc(exportKeep, func() { x.remove(id) })
}

func (x *exporter) remove(id string) {
	mp4, manifest := x.paths(id)
	_ = os.Remove(mp4)
	_ = os.Remove(manifest)
	x.mu.Lock()
	delete(x.jobs, id)
	x.mu.Unlock()
}

func (x *exporter) Status(ctx context.Context, id string) (web.ExportStatus, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.jobs[id]
	if !ok {
		return web.ExportStatus{}, fmt.Errorf("%w: no export %q", web.ErrInvalid, id)
	}
	return *st, nil
}

func (x *exporter) List(ctx context.Context) ([]web.ExportStatus, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]web.ExportStatus, 0, len(x.jobs))
	for _, st := range x.jobs {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

func (x *exporter) Open(ctx context.Context, id, part string) (io.ReadCloser, int64, error) {
	st, err := x.Status(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if st.State != "done" {
		return nil, 0, fmt.Errorf("%w: export %s is %s", web.ErrInvalid, id, st.State)
	}
	mp4, manifest := x.paths(id)
	var p string
	switch part {
	case "mp4":
		p = mp4
	case "manifest":
		p = manifest
	default:
		return nil, 0, fmt.Errorf("%w: part %q (want mp4 or manifest)", web.ErrInvalid, part)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, errors.New("export file is gone")
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
