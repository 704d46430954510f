package cameras

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/record"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/rules"
)

// ErrUnknownCamera is returned for a camera id the device does not have;
// it matches web.ErrUnknownCamera.
var ErrUnknownCamera = fmt.Errorf("%w", web.ErrUnknownCamera)

// Auditor is the part of the policy store the manager writes to.
type Auditor interface {
	Audit(ctx context.Context, e audit.Event) (audit.Record, error)
}

// Health is the part of the health tracker the manager and its pipelines
// report to ((*health.Tracker) fits).
type Health interface {
	pipeline.HealthSink
	SetCamera(c health.Camera)
	RemoveCamera(id string)
	Raise(code string, sev health.Severity, text string)
}

// Config is what the manager starts from.
type Config struct {
	// File is the validated config the cameras come from; Path is where
	// changes are written ("" = not written).
	File *config.Config
	Path string
	// DataDir holds the coverage proposals (<DataDir>/coverage) and the
	// sealed camera passwords (<DataDir>/vault). "" = no proposals: a
	// change that needs approval is refused.
	DataDir string
	// SegmentLength is the recorder's longest segment (0 = its default).
	SegmentLength time.Duration
	// MaxAccessUnit is pipeline.Deps.MaxAccessUnit (the daemon passes
	// storage.MaxFrameSize; 0 = the pipeline's default).
	MaxAccessUnit int
}

// Deps are the manager's collaborators.
type Deps struct {
	Store  record.Store // where the segments go
	Health Health
	// Audit records the manager's own decisions; nil = not audited.
	Audit Auditor
	// Coverage approves coverage changes (R27); nil = a change that needs
	// approval cannot be applied.
	Coverage CoveragePolicy
	// Vault seals camera passwords (issue 13, R32); nil = a camera with a
	// credential is refused and a password given on the LAN page too.
	Vault Sealer
	// ClockSynced tells the recorders whether wall time can be trusted
	// (nil = not synced: segments are flagged).
	ClockSynced func() bool
	Logger      *slog.Logger
}

// Manager owns the running cameras of the daemon: it starts each
// configured camera (or refuses it by policy, R1/R3, audited), and applies
// changes made on the LAN page at run time: add, update, remove, masks.
// It implements web.Cameras and live.Source.
type Manager struct {
	cfgPath string // "" = do not persist
	propDir string // "" = no proposals
	segLen  time.Duration
	maxAU   int
	store   record.Store
	tracker Health
	audit   Auditor
	cov     CoveragePolicy
	creds   *credStore // nil: no vault
	clock   func() bool
	log     *slog.Logger
	// looks is the keyframe-look pool shared by every passthrough camera
	// (issue 14): one decode per core at most, none on a read loop.
	looks   *pipeline.LookPool
	fatal   chan error // a recorder that stops on a storage error
	started chan struct{}

	mu      sync.Mutex
	parent  context.Context // Run's; nil before Run: nothing starts
	cfg     *config.Config
	running map[string]*runningCamera
	stopped bool // after StopAll: no camera starts again
	wg      sync.WaitGroup
}

type runningCamera struct {
	cam    *pipeline.Camera
	cancel context.CancelFunc
	done   chan struct{}
	// sub is the viewing pipeline of the camera's sub stream (nil: none).
	sub *pipeline.Camera
	// subWatch is sub for the main pipeline's goroutine (ImageElsewhere):
	// set when the sub stream starts, read without the manager's lock.
	subWatch  atomic.Pointer[pipeline.Camera]
	subCancel context.CancelFunc
	subDone   chan struct{}
}

// view is the pipeline live view uses: the sub stream's once it has
// delivered a picture, else the main one.
func (rc *runningCamera) view() *pipeline.Camera {
	if rc.sub != nil && rc.sub.Delivered() {
		return rc.sub
	}
	return rc.cam
}

// New returns a manager of cfg.File's cameras; none runs before Run.
func New(cfg Config, deps Deps) *Manager {
	m := &Manager{
		cfgPath: cfg.Path, segLen: cfg.SegmentLength, maxAU: cfg.MaxAccessUnit,
		store: deps.Store, tracker: deps.Health, audit: deps.Audit, cov: deps.Coverage,
		clock: deps.ClockSynced, log: deps.Logger, cfg: cfg.File,
		looks: pipeline.NewLookPool(runtime.NumCPU()), fatal: make(chan error, 1), started: make(chan struct{}),
		running: map[string]*runningCamera{},
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir != "" {
		m.propDir = filepath.Join(cfg.DataDir, "coverage")
		if deps.Vault != nil {
			m.creds = newCredStore(cfg.DataDir, deps.Vault)
		}
	}
	return m
}

// Run starts every configured camera under ctx, applies the coverage
// changes approved while the daemon was down (R27), and then blocks until
// ctx ends (the cameras stop with it; Wait waits until their segments are
// closed). A recorder that stops on a storage error ends Run with that
// error after stopping every camera.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.parent != nil {
		m.mu.Unlock()
		return errors.New("cameras: Run called twice")
	}
	m.parent = ctx
	m.wg.Add(1)
	defer m.wg.Done()
	for _, c := range m.cfg.Cameras {
		m.startLocked(c)
	}
	m.mu.Unlock()
	m.applyApproved(ctx)
	close(m.started)
	select {
	case <-ctx.Done():
		return nil // the cameras stop with ctx; Wait waits for them
	case err := <-m.fatal:
		m.StopAll()
		return fmt.Errorf("cameras: %w", err)
	}
}

// Started is closed once Run has started the configured cameras.
func (m *Manager) Started() <-chan struct{} { return m.started }

// Wait returns when Run and every camera goroutine have ended.
func (m *Manager) Wait() { m.wg.Wait() }

// Recording is the number of cameras that are running (not refused).
func (m *Manager) Recording() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.running)
}

func (m *Manager) startLocked(c config.Camera) {
	if m.stopped || m.parent == nil {
		return
	}
	if err := m.cfg.Refusal(c); err != nil {
		reason := err.Error()
		m.log.Warn("camera refused by policy", "camera", c.ID, "reason", reason)
		m.tracker.SetCamera(health.Camera{ID: c.ID, Name: c.Name, State: health.StateRefused, Reason: reason, Masked: len(c.Masks) > 0})
		m.tracker.Warn("refused:"+c.ID, fmt.Sprintf("camera %s refused: %s", c.ID, reason))
		m.auditEvent(audit.Event{Action: "camera.refuse", TargetKind: audit.KindCamera, Target: c.ID, Result: "refused", Detail: refusalRule(err)})
		return
	}
	m.tracker.Clear("refused:" + c.ID)
	src, err := m.creds.sourceURL(&c)
	if err != nil {
		// One camera whose password is not in the vault does not start;
		// the others record. The message names the camera and the
		// reference, never a password.
		reason := err.Error()
		m.log.Error("camera not started", "camera", c.ID, "err", reason)
		m.tracker.SetCamera(health.Camera{ID: c.ID, Name: c.Name, State: health.StateRefused, Reason: reason, Masked: len(c.Masks) > 0})
		m.tracker.Warn("credential:"+c.ID, reason)
		detail := "credential " + c.Credential
		if ce := (*credentialError)(nil); errors.As(err, &ce) {
			detail += ": " + ce.err.Error()
		}
		m.auditEvent(audit.Event{Action: "camera.refuse", TargetKind: audit.KindCamera, Target: c.ID, Result: "refused", Detail: clipDetail(detail, 300)})
		return
	}
	m.tracker.Clear("credential:" + c.ID)
	masks, err := c.MaskSet() // the config's masks as the validated type the pipeline takes
	if err != nil {           // the config was validated; cannot happen
		m.log.Error("camera not started", "camera", c.ID, "err", err)
		return
	}
	sub, err := m.creds.subSourceURL(&c)
	if err != nil {
		// The sub stream only serves viewing: record anyway, say why live
		// view uses the main stream.
		m.log.Warn("sub stream not started", "camera", c.ID, "err", err)
		sub = ""
	}
	m.launchLocked(c, src, masks)
	if sub != "" {
		m.launchSubLocked(c, sub, masks)
	}
}

// subFresh: while the sub stream published within this, it watches the
// picture of a passed-through camera (subWatchesPicture).
const subFresh = 10 * time.Second

// subWatchesPicture: a camera without masks whose main stream comes from a
// network camera is passed through (its keyframes are decoded only to look
// at them); its sub stream, decoded anyway for viewing at a fraction of
// the size, then reports the picture's health (R10), and the main
// stream's periodic keyframe looks stop (issues 14, 18). A masked camera's
// main stream is decoded whole and keeps its own image health.
func subWatchesPicture(c config.Camera) bool {
	return c.SubSource != "" && len(c.Masks) == 0 && strings.HasPrefix(string(c.Source), "rtsp")
}

// subBitrateKbps is the re-encode bitrate of a masked camera's sub stream
// (a viewing stream: small).
const subBitrateKbps = 600

// launchSubLocked starts the viewing pipeline of camera c's sub stream
// (issue 18): the same masks as the main stream (a masked camera's sub
// stream is decoded, masked and re-encoded, never passed through), no
// recorder, no health of its own (the camera's health is the main
// stream's). Live view and snapshots use it while it delivers; it stops
// with the main one.
func (m *Manager) launchSubLocked(c config.Camera, src string, masks mask.Set) {
	rc := m.running[c.ID]
	if rc == nil {
		return
	}
	deps := pipeline.Deps{Logger: m.log.With("camera", c.ID, "stream", "sub"), Looks: m.looks, MaxAccessUnit: m.maxAU}
	if subWatchesPicture(c) {
		deps.ImageHealth = m.tracker
	}
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{
		ID: c.ID, Name: c.Name, Source: src, Masks: masks,
		BitrateKbps: min(c.BitrateKbps, subBitrateKbps), KeyframeInterval: c.KeyframeInterval.D(),
	}, deps)
	if err != nil {
		m.log.Error("sub stream not started", "camera", c.ID, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(m.parent)
	done := make(chan struct{})
	rc.sub, rc.subCancel, rc.subDone = cam, cancel, done
	if subWatchesPicture(c) {
		rc.subWatch.Store(cam)
	}
	m.wg.Add(1)
	go func() { defer m.wg.Done(); defer close(done); _ = cam.Run(ctx) }()
}

// launchLocked starts the pipeline and recorder of camera c from src with
// masks.
func (m *Manager) launchLocked(c config.Camera, src string, masks mask.Set) {
	rc := &runningCamera{}
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{
		ID: c.ID, Name: c.Name, Source: src, Masks: masks,
		BitrateKbps: c.BitrateKbps, KeyframeInterval: c.KeyframeInterval.D(),
	}, pipeline.Deps{Health: m.tracker, Logger: m.log.With("camera", c.ID), Looks: m.looks, MaxAccessUnit: m.maxAU,
		ImageElsewhere: func() bool {
			sub := rc.subWatch.Load()
			return sub != nil && sub.Fresh(subFresh)
		}})
	if err != nil { // validated before; cannot happen
		m.log.Error("camera not started", "camera", c.ID, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(m.parent)
	rc.cam, rc.cancel, rc.done = cam, cancel, make(chan struct{})
	m.running[c.ID] = rc
	id := c.ID
	rec := record.New(record.Config{
		Camera:      id,
		MaxSegment:  m.segLen,
		ClockSynced: m.clock,
		Logger:      m.log.With("camera", id, "part", "record"),
		OnDrop: func(n uint64) {
			m.tracker.UpdateCamera(id, func(h *health.Camera) { h.Dropped += n })
		},
		OnSegment: func(start, end time.Time, frames int, err error) {
			if err != nil {
				m.tracker.Warn("segment:"+id, fmt.Sprintf("camera %s: closing a segment failed: %v", id, err))
			}
		},
		Schedule: m.cfg.CameraSchedule(c),
		OnSchedule: func(on bool) {
			m.tracker.UpdateCamera(id, func(h *health.Camera) { h.ScheduledOff = !on })
		},
	}, m.store, cam.Hub().Subscribe(256))
	var inner sync.WaitGroup
	inner.Add(2)
	m.wg.Add(1)
	go func() { defer inner.Done(); _ = cam.Run(ctx) }()
	go func() {
		defer inner.Done()
		if err := rec.Run(ctx); err != nil {
			m.log.Error("recording stopped", "camera", id, "err", err)
			m.tracker.Warn("record:"+id, fmt.Sprintf("camera %s: recording stopped: %v", id, err))
			if ctx.Err() != nil {
				return // stopped meanwhile (a restart, StopAll): not a storage fault
			}
			select {
			case m.fatal <- err:
			default:
			}
		}
	}()
	go func() { inner.Wait(); close(rc.done); m.wg.Done() }()
}

// StopAll stops every camera (their segments close) and refuses further
// changes (decommission).
func (m *Manager) StopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.running {
		m.stopLocked(id)
	}
	m.stopped = true
}

func (m *Manager) stopLocked(id string) {
	rc, ok := m.running[id]
	if !ok {
		return
	}
	rc.cancel()
	<-rc.done // the recorder closed its segment
	if rc.sub != nil {
		rc.subCancel()
		<-rc.subDone
	}
	delete(m.running, id)
}

func (m *Manager) auditEvent(e audit.Event) {
	if m.audit == nil {
		return
	}
	if e.Actor == "" {
		e.Actor = actorDevice
	}
	ctx := context.Background()
	if m.parent != nil {
		ctx = context.WithoutCancel(m.parent)
	}
	if _, err := m.audit.Audit(ctx, e); err != nil {
		m.log.Error("audit append failed", "action", e.Action, "err", err)
		m.tracker.Raise("audit.write", health.SevCritical, "audit log write failed: "+err.Error())
	}
}

// actorDevice is the actor of what the device decides by itself
// (policy.ActorDevice).
const actorDevice = "device"

// commitLocked validates next as a whole (the one validation of a change,
// masks included), writes it, and makes it current.
func (m *Manager) commitLocked(next *config.Config) error {
	if err := next.Validate(); err != nil {
		return err
	}
	if m.cfgPath != "" {
		data, err := next.Marshal()
		if err != nil {
			return fmt.Errorf("write config: %w", err)
		}
		if err := WriteConfigFile(m.cfgPath, data, next); err != nil {
			return err
		}
	}
	m.cfg = next
	return nil
}

// commitSealedLocked is commitLocked for a change that brings the camera
// id's password, sealed: it is stored in the vault after next validates and
// before the config that refers to it is written.
func (m *Manager) commitSealedLocked(next *config.Config, id string, sealed []byte) error {
	if sealed != nil {
		if err := next.Validate(); err != nil {
			return err
		}
		if err := m.creds.putSealed(config.CredentialName(id), sealed); err != nil {
			return fmt.Errorf("camera %s: password: %w", id, err)
		}
	}
	return m.commitLocked(next)
}

// dropCredentialLocked removes the vault item of a camera that no longer
// refers to it (best effort: a stale item is never used).
func (m *Manager) dropCredentialLocked(before, after *config.Camera) {
	if before == nil || before.Credential == "" || (after != nil && after.Credential != "") {
		return
	}
	if err := m.creds.remove(before.VaultName()); err != nil {
		m.log.Warn("vault: stale camera password not removed", "camera", before.ID, "err", err)
	}
}

// SealInlineCredentials runs at daemon start, after CheckExternalEdit (R16)
// and before Run: a password written inline in a camera source
// (edgerec.yaml edited by hand) is moved into the vault and the config file
// is rewritten with the reference and recorded as the device's own write,
// audited "camera.credential_sealed" per camera (without the password).
// Moving a password changes no coverage. If the file cannot be rewritten,
// the cameras still record with the inline password and the error is
// returned.
func (m *Manager) SealInlineCredentials() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cloneLocked()
	sealed := map[string][]byte{}
	for i := range next.Cameras {
		s, err := m.creds.takePassword(&next.Cameras[i])
		if err != nil {
			return err
		}
		if s != nil {
			sealed[next.Cameras[i].ID] = s
		}
	}
	if len(sealed) == 0 {
		return nil
	}
	if err := next.Validate(); err != nil {
		return err
	}
	ids := make([]string, 0, len(sealed))
	for id, s := range sealed {
		if err := m.creds.putSealed(config.CredentialName(id), s); err != nil {
			return fmt.Errorf("camera %s: password: %w", id, err)
		}
		ids = append(ids, id)
	}
	if err := m.commitLocked(next); err != nil {
		return err
	}
	slices.Sort(ids)
	for _, id := range ids {
		m.log.Info("camera password moved from the config file into the vault", "camera", id)
		m.auditEvent(audit.Event{Action: "camera.credential_sealed", TargetKind: audit.KindCamera, Target: id, Result: audit.ResultOK,
			Detail: "password moved from edgerec.yaml into the vault as " + config.CredentialRef(id)})
	}
	return nil
}

func (m *Manager) cloneLocked() *config.Config {
	c := *m.cfg
	c.Cameras = slices.Clone(m.cfg.Cameras)
	return &c
}

// Config is the current config.
func (m *Manager) Config() *config.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// Retention is each configured camera's maximum age (R6), for
// edge/retention.
func (m *Manager) Retention() map[string]time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]time.Duration, len(m.cfg.Cameras))
	for _, c := range m.cfg.Cameras {
		out[c.ID] = m.cfg.CameraRetention(c)
	}
	return out
}

// Cameras returns the configured cameras.
func (m *Manager) Cameras() []config.Camera {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.cfg.Cameras)
}

// Camera returns one configured camera.
func (m *Manager) Camera(id string) (config.Camera, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.cfg.Cameras {
		if c.ID == id {
			return c, nil
		}
	}
	return config.Camera{}, fmt.Errorf("%w: %q", ErrUnknownCamera, id)
}

// Add adds and starts a camera. A camera that policy forbids (R1, R3) or
// whose id is taken is refused with the reason and nothing changes.
func (m *Manager) Add(ctx context.Context, c config.Camera) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.ContainsFunc(m.cfg.Cameras, func(x config.Camera) bool { return x.ID == c.ID }) {
		return fmt.Errorf("%w: %q", web.ErrCameraExists, c.ID)
	}
	if err := m.cfg.Refusal(c); err != nil {
		return err // R1/R3: a camera that may not record is not added
	}
	c.Credential = "" // a new camera's password comes inline, once
	sealed, err := m.creds.takePassword(&c)
	if err != nil {
		return err
	}
	next := m.cloneLocked()
	next.Cameras = append(next.Cameras, c)
	if err := m.commitSealedLocked(next, c.ID, sealed); err != nil {
		return err
	}
	m.startLocked(c)
	return nil
}

// Update replaces a camera's settings (not its masks: SetMasks) and
// restarts it.
func (m *Manager) Update(ctx context.Context, c config.Camera) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cloneLocked()
	i := slices.IndexFunc(next.Cameras, func(x config.Camera) bool { return x.ID == c.ID })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownCamera, c.ID)
	}
	c.Masks = next.Cameras[i].Masks // masks change only through SetMasks
	if err := m.cfg.Refusal(c); err != nil {
		return err
	}
	before := next.Cameras[i]
	// A password typed with the source goes into the vault (a new
	// password for the same source is no coverage change); the credential
	// stays with an unchanged source and goes with a new one typed
	// without a password.
	c.Credential = before.Credential
	sealed, err := m.creds.takePassword(&c)
	if err != nil {
		return err
	}
	if sealed == nil && c.Source != before.Source {
		c.Credential = ""
	}
	next.Cameras[i] = c
	kind := classifyChange(&before, &c)
	if kind == "" && retentionShortened(m.cfg, &before, &c) {
		kind = grants.KindRetention // less footage kept (issue 18, R6, R27)
	}
	if kind != "" {
		if err := next.Validate(); err != nil {
			return err
		}
		return m.proposeLocked(&before, &c, kind, sealed) // R27: waits for approval
	}
	if err := m.commitSealedLocked(next, c.ID, sealed); err != nil {
		return err
	}
	m.dropCredentialLocked(&before, &c)
	m.stopLocked(c.ID)
	m.startLocked(c)
	return nil
}

// Remove proposes removing a camera: it stops and leaves the config only
// under an approved coverage grant (R27, ApplyCoverage). Its footage stays
// until retention erases it.
func (m *Manager) Remove(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cloneLocked()
	i := slices.IndexFunc(next.Cameras, func(x config.Camera) bool { return x.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownCamera, id)
	}
	return m.proposeLocked(&next.Cameras[i], nil, grants.KindRemove, nil) // R27: waits for approval
}

// SetMasks replaces a camera's masks (validated where they came in: a
// mask.Set): persisted with the config, and applied to the running camera at the next
// picture (recording and live view at once, R2) — if no pixel is less
// masked than before; otherwise it is proposed and waits for approval
// (R27).
func (m *Manager) SetMasks(ctx context.Context, id string, masks mask.Set) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cloneLocked()
	i := slices.IndexFunc(next.Cameras, func(x config.Camera) bool { return x.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownCamera, id)
	}
	before := next.Cameras[i]
	next.Cameras[i].Masks = fileMasks(masks.Masks())
	if kind := classifyChange(&before, &next.Cameras[i]); kind != "" {
		if err := next.Validate(); err != nil {
			return err
		}
		after := next.Cameras[i]
		return m.proposeLocked(&before, &after, kind, nil) // R27: waits for approval
	}
	if err := m.commitLocked(next); err != nil {
		return err
	}
	if rc, ok := m.running[id]; ok {
		rc.cam.SetMasks(masks)
		if rc.sub != nil {
			rc.sub.SetMasks(masks)
		}
	}
	return nil
}

// fileMasks is masks as the config file writes them. A copy, not a check:
// the config's validation checks them.
func fileMasks(masks []mask.Mask) []config.Mask {
	out := make([]config.Mask, len(masks))
	for i, mk := range masks {
		poly := make([][]float64, len(mk.Polygon))
		for j, p := range mk.Polygon {
			poly[j] = []float64{p.X, p.Y}
		}
		out[i] = config.Mask{Name: mk.Name, Style: mk.Style, Polygon: poly}
	}
	return out
}

// refusalRule names the rule a refusal comes from, for the audit detail
// (no camera names): by error value, not by text.
func refusalRule(err error) string {
	switch {
	case errors.Is(err, rules.ErrProhibitedZone), errors.Is(err, rules.ErrUnknownZone):
		return "R1 prohibited zone"
	case errors.Is(err, config.ErrNoSignage):
		return "R3 signage attestation missing"
	}
	return "policy"
}

func clipDetail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
