package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/seal"
)

// exportKeep is how long a finished export stays on the device for
// download. It is stored sealed under a key that only this process holds
// (see exporter), and is erased after this, at stop, or at the next start.
const exportKeep = time.Hour

// exportForget is how long an expired or failed export stays listed (with
// its reason) after it ended.
const exportForget = 24 * time.Hour

// exportChunk is the plaintext size of one sealed chunk of an export.
const exportChunk = 64 << 10

// Messages shown on the page (ExportStatus.Error) for an export whose file
// is gone.
const (
	msgExportExpired   = "kept for 1h after it finished, then its key was destroyed and the file erased; start the export again while the grant is valid"
	msgExportRestarted = "the device restarted: the export's key was held only in memory, so the file could no longer be read and was erased; start the export again while the grant is valid"
	msgExportTampered  = "the encrypted export file on the device failed its integrity check (changed or damaged); it was erased, nothing was sent; start the export again while the grant is valid"
)

// exporter runs exports for the LAN page (web.Exports), one at a time per
// device. An export's MP4 never sits in the data directory in the clear:
// the job writes it to <data>/exports/<id>.mp4.sealed (0700 dir) as a
// sealed stream (storage/seal) under a random key made for this export and
// held only in the job, in memory; the download streams it decrypted.
// Expiry, a failed integrity check and stop destroy the key and unlink the
// file. A job record <id>.job.json (ids, camera, range: no footage, no key)
// lets the next start list an export that a restart made unreadable as
// expired, with the reason; the start then deletes everything in the
// directory. The signed manifest (<id>.manifest.json) holds no footage and
// stays in the clear.
type exporter struct {
	dir    string
	device func() *config.Config
	store  *storage.Store
	ps     *policy.Store
	log    *slog.Logger

	mu     sync.Mutex
	jobs   map[string]*exportJob
	busy   bool
	closed bool
}

// exportJob is one export and, while its file is downloadable, the key of
// that file.
type exportJob struct {
	st     web.ExportStatus
	cipher seal.Cipher
	key    []byte        // nil once destroyed
	size   int64         // plaintext size of the MP4
	gone   chan struct{} // closed when the key is destroyed
	timer  *time.Timer
}

// exportRecord is the job record kept beside an export while it exists.
type exportRecord struct {
	ID      string    `json:"id"`
	Grant   string    `json:"grant"`
	Camera  string    `json:"camera"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	By      string    `json:"by"`
	Started time.Time `json:"started"`
}

func newExporter(dataDir string, device func() *config.Config, store *storage.Store, ps *policy.Store, log *slog.Logger) (*exporter, error) {
	dir := filepath.Join(dataDir, "exports")
	x := &exporter{dir: dir, device: device, store: store, ps: ps, log: log, jobs: map[string]*exportJob{}}
	// Exports of an earlier run cannot be read (their keys died with that
	// process): list them as expired, then delete everything.
	recs, _ := filepath.Glob(filepath.Join(dir, "*.job.json"))
	for _, p := range recs {
		b, err := os.ReadFile(p)
		var r exportRecord
		if err != nil || json.Unmarshal(b, &r) != nil || !validExportID(r.ID) || time.Since(r.Started) > exportForget {
			continue
		}
		st := web.ExportStatus{ID: r.ID, Grant: r.Grant, Camera: r.Camera, From: r.From, To: r.To, By: r.By, Started: r.Started,
			State: "expired", Error: msgExportRestarted}
		j := &exportJob{st: st, gone: make(chan struct{})}
		close(j.gone)
		x.jobs[r.ID] = j
		id := r.ID
		j.timer = time.AfterFunc(exportForget-time.Since(r.Started), func() { x.forget(id) })
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("erase exports of an earlier run: %w", err)
	}
	if len(x.jobs) > 0 {
		log.Info("exports of an earlier run erased (their keys were only in memory)", "count", len(x.jobs))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return x, nil
}

func validExportID(id string) bool {
	if len(id) != 18 || id[:2] != "x-" {
		return false
	}
	_, err := hex.DecodeString(id[2:])
	return err == nil
}

func (x *exporter) paths(id string) (sealed, manifest, record string) {
	base := filepath.Join(x.dir, id)
	return base + ".mp4.sealed", export.ManifestPath(base + ".mp4"), base + ".job.json"
}

// Start begins an export. The LAN page has checked and audited the export
// grant (UseGrant) before calling it.
func (x *exporter) Start(ctx context.Context, req web.ExportRequest) (web.ExportStatus, error) {
	x.mu.Lock()
	if x.busy || x.closed {
		x.mu.Unlock()
		return web.ExportStatus{}, fmt.Errorf("%w: another export is running; try again when it is done", web.ErrUnavailable)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	st := web.ExportStatus{ID: "x-" + hex.EncodeToString(b[:]), Grant: req.Grant, Camera: req.Camera, From: req.From, To: req.To, By: req.By, State: "running", Started: time.Now()}
	_, _, recPath := x.paths(st.ID)
	rec, _ := json.Marshal(exportRecord{ID: st.ID, Grant: st.Grant, Camera: st.Camera, From: st.From, To: st.To, By: st.By, Started: st.Started})
	if err := writeFileAtomic(recPath, rec, 0o600); err != nil {
		x.mu.Unlock()
		return web.ExportStatus{}, fmt.Errorf("export job record: %w", err)
	}
	x.jobs[st.ID] = &exportJob{st: st, gone: make(chan struct{})}
	x.busy = true
	x.mu.Unlock()
	go x.run(context.WithoutCancel(ctx), st.ID, req)
	return st, nil
}

func (x *exporter) update(id string, fn func(*web.ExportStatus)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if j, ok := x.jobs[id]; ok {
		fn(&j.st)
	}
}

func (x *exporter) run(ctx context.Context, id string, req web.ExportRequest) {
	defer func() { x.mu.Lock(); x.busy = false; x.mu.Unlock() }()
	sealedPath, manifest, rec := x.paths(id)
	fail := func(err error) {
		x.log.Warn("export failed", "export", id, "err", err)
		_ = os.Remove(sealedPath)
		_ = os.Remove(manifest)
		_ = os.Remove(rec)
		x.end(id, "failed", err.Error())
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
	if k, err := uplink.LoadOrCreateKey(uplink.KeyPath(filepath.Dir(x.dir)), x.store.Vault()); err == nil {
		opaque = uplink.OpaqueID(k, req.Camera)
	}
	// The file key: random, made for this export, held only here and then
	// in the job; the MP4 reaches the disk only sealed under it.
	c, err := seal.ParseCipher("auto")
	if err != nil {
		fail(err)
		return
	}
	fileKey := make([]byte, seal.KeySize)
	if _, err := rand.Read(fileKey); err != nil {
		fail(err)
		return
	}
	kept := false
	defer func() {
		if !kept {
			clear(fileKey)
		}
	}()
	tmp, err := os.CreateTemp(x.dir, ".tmp-*.mp4.sealed")
	if err != nil {
		fail(err)
		return
	}
	defer os.Remove(tmp.Name())
	sw, err := seal.NewStreamWriter(tmp, c, fileKey, exportSegmentID(id), exportChunk)
	if err != nil {
		tmp.Close()
		fail(err)
		return
	}
	seq, _ := x.ps.Head()
	m, err := export.Export(ctx, x.store, export.Request{
		Device: cfg.Device.ID, Camera: req.Camera, CameraName: camName, OpaqueCameraID: opaque,
		From: req.From, To: req.To, GrantID: req.Grant,
		Requester: names[g.Requester], Approver: approver, Exporter: names[req.By],
		AuditSeq: seq, FileName: id + ".mp4",
		// The LAN page used (and audited) the grant for exactly this
		// camera and range before Start.
		Authorizer: export.AuthorizerFunc(func(context.Context, string, string, time.Time, time.Time) error { return nil }),
	}, sw, func(done, total time.Duration) {
		if total > 0 {
			x.update(id, func(s *web.ExportStatus) { s.Progress = float64(done) / float64(total) })
		}
	})
	if err == nil {
		err = sw.Close()
	}
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
		err = os.Rename(tmp.Name(), sealedPath)
	}
	if err != nil {
		fail(err)
		return
	}
	x.mu.Lock()
	j, ok := x.jobs[id]
	if ok && !x.closed {
		j.cipher, j.key, j.size = c, fileKey, m.File.Size
		j.st.State, j.st.Progress, j.st.Bytes = "done", 1, m.File.Size
		j.timer = time.AfterFunc(exportKeep, func() { x.expire(id, msgExportExpired) })
		kept = true
	}
	x.mu.Unlock()
	if !kept { // stopped meanwhile
		_ = os.Remove(sealedPath)
		_ = os.Remove(manifest)
	}
}

// exportSegmentID is the segment id an export's stream is sealed as
// (bound into every chunk; the key is per export anyway).
func exportSegmentID(id string) uint64 {
	b, err := hex.DecodeString(strings.TrimPrefix(id, "x-"))
	if err != nil || len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// end destroys the key of export id, if any, and records why the export
// ended; the listing keeps it for exportForget.
func (x *exporter) end(id, state, reason string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	j, ok := x.jobs[id]
	if !ok {
		return
	}
	x.destroyKeyLocked(j)
	j.st.State, j.st.Error = state, reason
	if j.timer != nil {
		j.timer.Stop()
	}
	if !x.closed {
		j.timer = time.AfterFunc(exportForget, func() { x.forget(id) })
	}
}

func (x *exporter) destroyKeyLocked(j *exportJob) {
	if j.key != nil {
		clear(j.key)
		j.key = nil
	}
	select {
	case <-j.gone:
	default:
		close(j.gone)
	}
}

// expire erases export id: key first (that alone makes the file
// unreadable), then the files.
func (x *exporter) expire(id, reason string) {
	x.end(id, "expired", reason)
	sealedPath, manifest, rec := x.paths(id)
	_ = os.Remove(sealedPath)
	_ = os.Remove(manifest)
	_ = os.Remove(rec)
}

func (x *exporter) forget(id string) {
	x.mu.Lock()
	delete(x.jobs, id)
	x.mu.Unlock()
	_, _, rec := x.paths(id)
	_ = os.Remove(rec)
}

// Close destroys every export key and erases the export files (on stop).
// The job records stay, so that the next start lists those exports as
// expired by the restart.
func (x *exporter) Close() error {
	x.mu.Lock()
	x.closed = true
	for _, j := range x.jobs {
		x.destroyKeyLocked(j)
		if j.timer != nil {
			j.timer.Stop()
		}
	}
	x.mu.Unlock()
	for _, pat := range []string{"*.mp4.sealed", "*.manifest.json", ".tmp-*"} {
		ms, _ := filepath.Glob(filepath.Join(x.dir, pat))
		for _, p := range ms {
			_ = os.Remove(p)
		}
	}
	return nil
}

func (x *exporter) Status(ctx context.Context, id string) (web.ExportStatus, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	j, ok := x.jobs[id]
	if !ok {
		return web.ExportStatus{}, fmt.Errorf("%w: no export %q", web.ErrInvalid, id)
	}
	return j.st, nil
}

func (x *exporter) List(ctx context.Context) ([]web.ExportStatus, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]web.ExportStatus, 0, len(x.jobs))
	for _, j := range x.jobs {
		out = append(out, j.st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// Open returns the signed manifest as it is, or the MP4 decrypted. The
// whole sealed file is authenticated first, so a changed or damaged file
// is refused with a clear error (and erased) before the first byte is
// sent; a change made after that check cuts the stream short (an error,
// never silently different bytes). The download stops when the export's
// key is destroyed (expiry, stop).
func (x *exporter) Open(ctx context.Context, id, part string) (io.ReadCloser, int64, error) {
	sealedPath, manifest, _ := x.paths(id)
	x.mu.Lock()
	j, ok := x.jobs[id]
	if !ok {
		x.mu.Unlock()
		return nil, 0, fmt.Errorf("%w: no export %q", web.ErrInvalid, id)
	}
	if j.st.State != "done" || j.key == nil {
		defer x.mu.Unlock()
		msg := fmt.Sprintf("export %s is %s", id, j.st.State)
		if j.st.Error != "" {
			msg += ": " + j.st.Error
		}
		return nil, 0, fmt.Errorf("%w: %s", web.ErrInvalid, msg)
	}
	c, key, size, gone := j.cipher, bytes.Clone(j.key), j.size, j.gone
	x.mu.Unlock()
	defer clear(key)
	switch part {
	case "manifest":
		f, err := os.Open(manifest)
		if err != nil {
			return nil, 0, errors.New("export file is gone")
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		return f, fi.Size(), nil
	case "mp4":
	default:
		return nil, 0, fmt.Errorf("%w: part %q (want mp4 or manifest)", web.ErrInvalid, part)
	}
	f, err := os.Open(sealedPath)
	if err != nil {
		return nil, 0, errors.New("export file is gone")
	}
	tampered := func(err error) (io.ReadCloser, int64, error) {
		f.Close()
		x.log.Warn("export file failed its integrity check; erased", "export", id, "err", err)
		x.expire(id, msgExportTampered)
		x.update(id, func(s *web.ExportStatus) { s.State = "failed" })
		return nil, 0, fmt.Errorf("%w: export %s: %s", web.ErrUnavailable, id, msgExportTampered)
	}
	// Integrity pass: every chunk authenticates and the length is the
	// exported one.
	r, err := seal.NewStreamReader(bufio.NewReaderSize(f, exportChunk+seal.HeaderSize+seal.Overhead), c, key, exportSegmentID(id))
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	n, err := io.Copy(io.Discard, r)
	r.Close()
	if err == nil && n != size {
		err = fmt.Errorf("%w: %d bytes, exported %d", seal.ErrAuth, n, size)
	}
	if errors.Is(err, seal.ErrAuth) {
		return tampered(err)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, err
	}
	r, err = seal.NewStreamReader(bufio.NewReaderSize(f, exportChunk+seal.HeaderSize+seal.Overhead), c, key, exportSegmentID(id))
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return &exportDownload{r: r, f: f, gone: gone, id: id, log: x.log}, size, nil
}

// exportDownload streams an export decrypted; it fails as soon as the
// export's key is destroyed or a chunk does not authenticate.
type exportDownload struct {
	r    *seal.StreamReader
	f    *os.File
	gone <-chan struct{}
	id   string
	log  *slog.Logger
	err  error
}

func (d *exportDownload) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	select {
	case <-d.gone:
		d.err = fmt.Errorf("export %s: its key was destroyed during the download", d.id)
		return 0, d.err
	default:
	}
	n, err := d.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		d.log.Warn("export download stopped", "export", d.id, "err", err)
		d.err = err
	}
	return n, err
}

func (d *exportDownload) Close() error {
	d.r.Close()
	return d.f.Close()
}
