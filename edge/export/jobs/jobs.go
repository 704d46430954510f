package jobs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
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

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/policy/kind"
	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/seal"
)

// Defaults.
const (
	// DefaultKeep is how long a finished export stays downloadable.
	DefaultKeep = time.Hour
	// DefaultForget is how long an ended export stays listed.
	DefaultForget = 24 * time.Hour
	// chunk is the plaintext size of one sealed chunk of an export.
	chunk = 64 << 10
)

// Messages shown for an export whose file is gone (Status.Error).
const (
	MsgExpired   = "kept for 1h after it finished, then its key was destroyed and the file erased; start the export again while the grant is valid"
	MsgRestarted = "the device restarted: the export's key was held only in memory, so the file could no longer be read and was erased; start the export again while the grant is valid"
	MsgTampered  = "the encrypted export file on the device failed its integrity check (changed or damaged); it was erased, nothing was sent; start the export again while the grant is valid"
)

// Errors; match with errors.Is. Each has a kind (policy/kind), so the LAN
// page answers them without knowing this package's sentinels: *Runner
// is web.Exports as it is.
var (
	// ErrBusy: another export is running, or the runner is closed.
	ErrBusy = kind.New(kind.Unavailable, "another export is running; try again when it is done")
	// ErrNotFound: no export with this id.
	ErrNotFound = kind.New(kind.Invalid, "no export")
	// ErrNotReady: the export is running, failed or expired.
	ErrNotReady = kind.New(kind.Invalid, "export not available")
	// ErrBadPart: Open asked for something else than "mp4" or "manifest".
	ErrBadPart = kind.New(kind.Invalid, "unknown export part")
	// ErrTampered: the sealed file failed its integrity check; it was
	// erased.
	ErrTampered = kind.New(kind.Unavailable, "export file failed its integrity check")
)

// Request is one export, after the caller checked and audited the grant's
// use.
type Request struct {
	Grant    string
	Camera   string
	From, To time.Time
	By       string // user id of the exporter
}

// Status is the progress of one export (web.ExportStatus).
type Status struct {
	ID       string    `json:"id"`
	Grant    string    `json:"grant"`
	Camera   string    `json:"camera"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	By       string    `json:"by"`
	State    string    `json:"state"`    // running, done, failed, expired (file erased; Error says why)
	Progress float64   `json:"progress"` // 0..1
	Bytes    int64     `json:"bytes"`
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started"`
}

// Device is what the runner needs to know about the device.
type Device interface {
	// Subject names the device and camera in the manifest.
	Subject(camera string) export.Subject
	// SigningKey returns the device's signing key; the runner clears it.
	SigningKey() (ed25519.PrivateKey, error)
}

// Config of the runner.
type Config struct {
	Dir    string        // the exports directory (<data>/exports); made 0700
	Keep   time.Duration // 0 = DefaultKeep
	Forget time.Duration // 0 = DefaultForget
}

// Deps of the runner.
type Deps struct {
	Store  export.Reader
	Policy export.GrantPolicy
	Device Device
	Logger *slog.Logger // nil = discard
}

// Runner runs exports one at a time. Safe for concurrent use.
type Runner struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu     sync.Mutex
	jobs   map[string]*job
	busy   bool
	closed bool
	wg     sync.WaitGroup
}

// job is one export and, while its file is downloadable, the key of that
// file.
type job struct {
	st     Status
	cipher seal.Cipher
	key    []byte        // nil once destroyed
	size   int64         // plaintext size of the MP4
	gone   chan struct{} // closed when the key is destroyed
	timer  *time.Timer
}

// record is the job record kept beside an export while it exists.
type record struct {
	ID      string    `json:"id"`
	Grant   string    `json:"grant"`
	Camera  string    `json:"camera"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	By      string    `json:"by"`
	Started time.Time `json:"started"`
}

// New returns a runner. Exports of an earlier run cannot be read (their
// keys died with that process): they are listed as expired, and
// everything in cfg.Dir is deleted.
func New(cfg Config, deps Deps) (*Runner, error) {
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.Forget <= 0 {
		cfg.Forget = DefaultForget
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dir == "" || deps.Store == nil || deps.Policy == nil || deps.Device == nil {
		return nil, errors.New("export jobs: Dir, Store, Policy and Device are required")
	}
	x := &Runner{cfg: cfg, deps: deps, log: deps.Logger, jobs: map[string]*job{}}
	recs, _ := filepath.Glob(filepath.Join(cfg.Dir, "*.job.json"))
	for _, p := range recs {
		b, err := os.ReadFile(p)
		var r record
		if err != nil || json.Unmarshal(b, &r) != nil || !validID(r.ID) || time.Since(r.Started) > cfg.Forget {
			continue
		}
		st := Status{ID: r.ID, Grant: r.Grant, Camera: r.Camera, From: r.From, To: r.To, By: r.By, Started: r.Started,
			State: "expired", Error: MsgRestarted}
		j := &job{st: st, gone: make(chan struct{})}
		close(j.gone)
		x.jobs[r.ID] = j
		id := r.ID
		j.timer = time.AfterFunc(cfg.Forget-time.Since(r.Started), func() { x.forget(id) })
	}
	if err := os.RemoveAll(cfg.Dir); err != nil {
		return nil, fmt.Errorf("export jobs: erase exports of an earlier run: %w", err)
	}
	if len(x.jobs) > 0 {
		x.log.Info("exports of an earlier run erased (their keys were only in memory)", "count", len(x.jobs))
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("export jobs: %w", err)
	}
	return x, nil
}

func validID(id string) bool {
	if len(id) != 18 || id[:2] != "x-" {
		return false
	}
	_, err := hex.DecodeString(id[2:])
	return err == nil
}

func (x *Runner) paths(id string) (sealed, manifest, rec string) {
	base := filepath.Join(x.cfg.Dir, id)
	return base + ".mp4.sealed", export.ManifestPath(base + ".mp4"), base + ".job.json"
}

// Start begins an export in the background and returns its status.
func (x *Runner) Start(ctx context.Context, req Request) (Status, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.busy || x.closed {
		return Status{}, ErrBusy
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	st := Status{ID: "x-" + hex.EncodeToString(b[:]), Grant: req.Grant, Camera: req.Camera, From: req.From, To: req.To, By: req.By, State: "running", Started: time.Now()}
	_, _, recPath := x.paths(st.ID)
	rec, _ := json.Marshal(record{ID: st.ID, Grant: st.Grant, Camera: st.Camera, From: st.From, To: st.To, By: st.By, Started: st.Started})
	if err := keys.WriteFileAtomic(recPath, rec, 0o600); err != nil {
		return Status{}, fmt.Errorf("export job record: %w", err)
	}
	x.jobs[st.ID] = &job{st: st, gone: make(chan struct{})}
	x.busy = true
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		x.run(context.WithoutCancel(ctx), st.ID, req)
	}()
	return st, nil
}

// Wait waits for the running export, if any, to end (tests).
func (x *Runner) Wait() { x.wg.Wait() }

func (x *Runner) update(id string, fn func(*Status)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if j, ok := x.jobs[id]; ok {
		fn(&j.st)
	}
}

// sealedSink seals the MP4 on its way to a temporary file.
type sealedSink struct {
	sw *seal.StreamWriter
	f  *os.File
}

func (s sealedSink) Write(p []byte) (int, error) { return s.sw.Write(p) }

func (s sealedSink) Commit() error {
	err := s.sw.Close()
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (x *Runner) run(ctx context.Context, id string, req Request) {
	defer func() { x.mu.Lock(); x.busy = false; x.mu.Unlock() }()
	sealedPath, manifest, rec := x.paths(id)
	fail := func(err error) {
		x.log.Warn("export failed", "export", id, "err", err)
		_ = os.Remove(sealedPath)
		_ = os.Remove(manifest)
		_ = os.Remove(rec)
		x.end(id, "failed", err.Error())
	}
	key, err := x.deps.Device.SigningKey()
	if err != nil {
		fail(err)
		return
	}
	defer clear(key)
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
	tmp, err := os.CreateTemp(x.cfg.Dir, ".tmp-*.mp4.sealed")
	if err != nil {
		fail(err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	sw, err := seal.NewStreamWriter(tmp, c, fileKey, segmentID(id), chunk)
	if err != nil {
		fail(err)
		return
	}
	m, doc, err := export.Signed(ctx, x.deps.Store, x.deps.Policy, export.SignedRequest{
		Subject: x.deps.Device.Subject(req.Camera), Camera: req.Camera, From: req.From, To: req.To,
		GrantID: req.Grant, Actor: req.By, FileName: id + ".mp4", Key: key,
	}, sealedSink{sw: sw, f: tmp}, func(done, total time.Duration) {
		if total > 0 {
			x.update(id, func(s *Status) { s.Progress = float64(done) / float64(total) })
		}
	})
	if err == nil {
		err = keys.WriteFileAtomic(manifest, doc, 0o600)
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
		j.timer = time.AfterFunc(x.cfg.Keep, func() { x.expire(id, MsgExpired) })
		kept = true
	}
	x.mu.Unlock()
	if !kept { // closed meanwhile
		_ = os.Remove(sealedPath)
		_ = os.Remove(manifest)
	}
}

// segmentID is the segment id an export's stream is sealed as (bound into
// every chunk; the key is per export anyway).
func segmentID(id string) uint64 {
	b, err := hex.DecodeString(strings.TrimPrefix(id, "x-"))
	if err != nil || len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// end destroys the key of export id, if any, and records why the export
// ended; the listing keeps it for Forget.
func (x *Runner) end(id, state, reason string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	j, ok := x.jobs[id]
	if !ok {
		return
	}
	destroyKey(j)
	j.st.State, j.st.Error = state, reason
	if j.timer != nil {
		j.timer.Stop()
	}
	if !x.closed {
		j.timer = time.AfterFunc(x.cfg.Forget, func() { x.forget(id) })
	}
}

// destroyKey clears the key of j (x.mu held).
func destroyKey(j *job) {
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
func (x *Runner) expire(id, reason string) {
	x.end(id, "expired", reason)
	sealedPath, manifest, rec := x.paths(id)
	_ = os.Remove(sealedPath)
	_ = os.Remove(manifest)
	_ = os.Remove(rec)
}

func (x *Runner) forget(id string) {
	x.mu.Lock()
	delete(x.jobs, id)
	x.mu.Unlock()
	_, _, rec := x.paths(id)
	_ = os.Remove(rec)
}

// Close destroys every export key and erases the export files (on stop).
// The job records stay, so that the next start lists those exports as
// expired by the restart.
func (x *Runner) Close() error {
	x.mu.Lock()
	x.closed = true
	for _, j := range x.jobs {
		destroyKey(j)
		if j.timer != nil {
			j.timer.Stop()
		}
	}
	x.mu.Unlock()
	for _, pat := range []string{"*.mp4.sealed", "*.manifest.json", ".tmp-*"} {
		ms, _ := filepath.Glob(filepath.Join(x.cfg.Dir, pat))
		for _, p := range ms {
			_ = os.Remove(p)
		}
	}
	return nil
}

// Status returns export id.
func (x *Runner) Status(ctx context.Context, id string) (Status, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	j, ok := x.jobs[id]
	if !ok {
		return Status{}, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	return j.st, nil
}

// List returns every listed export, newest first.
func (x *Runner) List(ctx context.Context) ([]Status, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]Status, 0, len(x.jobs))
	for _, j := range x.jobs {
		out = append(out, j.st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// Open returns the signed manifest as it is ("manifest"), or the MP4
// decrypted ("mp4"), and its size. The whole sealed file is authenticated
// first, so a changed or damaged file is refused (ErrTampered) and erased
// before the first byte is sent; a change made after that check cuts the
// stream short (an error, never silently different bytes). The download
// stops when the export's key is destroyed (expiry, Close).
func (x *Runner) Open(ctx context.Context, id, part string) (io.ReadCloser, int64, error) {
	sealedPath, manifest, _ := x.paths(id)
	x.mu.Lock()
	j, ok := x.jobs[id]
	if !ok {
		x.mu.Unlock()
		return nil, 0, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	if j.st.State != "done" || j.key == nil {
		defer x.mu.Unlock()
		msg := fmt.Sprintf("export %s is %s", id, j.st.State)
		if j.st.Error != "" {
			msg += ": " + j.st.Error
		}
		return nil, 0, fmt.Errorf("%w: %s", ErrNotReady, msg)
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
		return nil, 0, fmt.Errorf("%w %q (want mp4 or manifest)", ErrBadPart, part)
	}
	f, err := os.Open(sealedPath)
	if err != nil {
		return nil, 0, errors.New("export file is gone")
	}
	tampered := func(err error) (io.ReadCloser, int64, error) {
		f.Close()
		x.log.Warn("export file failed its integrity check; erased", "export", id, "err", err)
		x.expire(id, MsgTampered)
		x.update(id, func(s *Status) { s.State = "failed" })
		return nil, 0, fmt.Errorf("%w: export %s: %s", ErrTampered, id, MsgTampered)
	}
	// Integrity pass: every chunk authenticates and the length is the
	// exported one.
	r, err := seal.NewStreamReader(bufio.NewReaderSize(f, chunk+seal.HeaderSize+seal.Overhead), c, key, segmentID(id))
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
	r, err = seal.NewStreamReader(bufio.NewReaderSize(f, chunk+seal.HeaderSize+seal.Overhead), c, key, segmentID(id))
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return &download{r: r, f: f, gone: gone, id: id, log: x.log}, size, nil
}

// download streams an export decrypted; it fails as soon as the export's
// key is destroyed or a chunk does not authenticate.
type download struct {
	r    *seal.StreamReader
	f    *os.File
	gone <-chan struct{}
	id   string
	log  *slog.Logger
	err  error
}

func (d *download) Read(p []byte) (int, error) {
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

func (d *download) Close() error {
	d.r.Close()
	return d.f.Close()
}
