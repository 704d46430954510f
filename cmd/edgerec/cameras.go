package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/record"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/storage"
)

// ErrUnknownCamera is returned for a camera id the device does not have;
// it matches web.ErrUnknownCamera.
var ErrUnknownCamera = fmt.Errorf("%w", web.ErrUnknownCamera)

// auditor is the part of the policy store the manager writes to.
type auditor interface {
	Audit(ctx context.Context, e audit.Event) (audit.Record, error)
}

// cameraManager owns the running cameras of the daemon: it starts each
// configured camera (or refuses it by policy, R1/R3, audited), and applies
// changes made on the LAN page at run time: add, update, remove, masks.
// Every change is validated as a whole config, written to the config file
// atomically, then applied; a change that does not validate changes
// nothing. The LAN page audits the changes with the person who made them.
// A change that reduces coverage or masking (classifyChange) is not
// applied: it is kept as a proposal until a coverage grant for exactly it
// is approved (R27, coverage.go).
type cameraManager struct {
	parent  context.Context
	cfgPath string // "" = do not persist
	store   *storage.Store
	tracker *health.Tracker
	audit   auditor
	log     *slog.Logger
	segLen  time.Duration
	fatal   chan<- error // a recorder that stops on a storage error
	// clockSynced tells the segmenter whether wall time can be trusted
	// (nil = not synced: segments are flagged).
	clockSynced func() bool
	// cov and propDir: coverage changes (R27, coverage.go). Without cov a
	// reducing change is refused; proposals live in propDir.
	cov     coveragePolicy
	propDir string
	// creds keeps camera passwords sealed in the vault (issue 13, R32;
	// credentials.go). Without it a camera with a credential is refused
	// and a password given on the LAN page is refused.
	creds *credStore
	// looks is the keyframe-look pool shared by every passthrough camera
	// (issue 14): one decode per core at most, none on a read loop.
	looks *pipeline.LookPool

	mu      sync.Mutex
	cfg     *config.Config
	running map[string]*runningCamera
	stopped bool // after StopAll: no camera starts again
	wg      sync.WaitGroup
}

type runningCamera struct {
	cam    *pipeline.Camera
	cancel context.CancelFunc
	done   chan struct{}
}

func newCameraManager(ctx context.Context, cfg *config.Config, cfgPath string, store *storage.Store, tracker *health.Tracker, au auditor, log *slog.Logger, segLen time.Duration, fatal chan<- error) *cameraManager {
	return &cameraManager{
		parent: ctx, cfgPath: cfgPath, store: store, tracker: tracker, audit: au, log: log,
		segLen: segLen, fatal: fatal, cfg: cfg, running: map[string]*runningCamera{},
		looks: pipeline.NewLookPool(runtime.NumCPU()),
	}
}

// StartAll starts every configured camera.
func (m *cameraManager) StartAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.cfg.Cameras {
		m.startLocked(c)
	}
}

// Recording is the number of cameras that are running (not refused).
func (m *cameraManager) Recording() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.running)
}

// Wait stops waiting when every camera goroutine has ended (after the
// parent context is cancelled).
func (m *cameraManager) Wait() { m.wg.Wait() }

func (m *cameraManager) startLocked(c config.Camera) {
	if m.stopped {
		return
	}
	if err := m.cfg.Refusal(c); err != nil {
		reason := err.Error()
		m.log.Warn("camera refused by policy", "camera", c.ID, "reason", reason)
		m.tracker.SetCamera(health.Camera{ID: c.ID, Name: c.Name, State: health.StateRefused, Reason: reason, Masked: len(c.Masks) > 0})
		m.tracker.Warn("refused:"+c.ID, fmt.Sprintf("camera %s refused: %s", c.ID, reason))
		m.auditEvent(audit.Event{Action: "camera.refuse", TargetKind: audit.KindCamera, Target: c.ID, Result: "refused", Detail: refusalRule(reason)})
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
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{
		ID: c.ID, Name: c.Name, Source: src, Masks: c.MaskList(),
		BitrateKbps: c.BitrateKbps, KeyframeInterval: c.KeyframeInterval.D(),
	}, pipeline.Deps{Health: m.tracker, Logger: m.log.With("camera", c.ID), Looks: m.looks, MaxAccessUnit: storage.MaxFrameSize})
	if err != nil { // validated before; cannot happen
		m.log.Error("camera not started", "camera", c.ID, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(m.parent)
	rc := &runningCamera{cam: cam, cancel: cancel, done: make(chan struct{})}
	m.running[c.ID] = rc
	id := c.ID
	rec := record.New(record.Config{
		Camera:      id,
		MaxSegment:  m.segLen,
		ClockSynced: m.clockSynced,
		Logger:      m.log.With("camera", id, "part", "record"),
		OnDrop: func(n uint64) {
			m.tracker.UpdateCamera(id, func(h *health.Camera) { h.Dropped += n })
		},
		OnSegment: func(start, end time.Time, frames int, err error) {
			if err != nil {
				m.tracker.Warn("segment:"+id, fmt.Sprintf("camera %s: closing a segment failed: %v", id, err))
			}
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
func (m *cameraManager) StopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.running {
		m.stopLocked(id)
	}
	m.stopped = true
}

func (m *cameraManager) stopLocked(id string) {
	rc, ok := m.running[id]
	if !ok {
		return
	}
	rc.cancel()
	<-rc.done // the recorder closed its segment
	delete(m.running, id)
}

func (m *cameraManager) auditEvent(e audit.Event) {
	if m.audit == nil {
		return
	}
	if e.Actor == "" {
		e.Actor = "device"
	}
	if _, err := m.audit.Audit(context.WithoutCancel(m.parent), e); err != nil {
		m.log.Error("audit append failed", "action", e.Action, "err", err)
		m.tracker.Raise("audit.write", health.SevCritical, "audit log write failed: "+err.Error())
	}
}

// commitLocked validates next as a whole, writes it, and makes it current.
func (m *cameraManager) commitLocked(next *config.Config) error {
	if err := next.Validate(); err != nil {
		return err
	}
	if m.cfgPath != "" {
		data, err := next.Marshal()
		if err != nil {
			return fmt.Errorf("write config: %w", err)
		}
		if err := writeConfigFile(m.cfgPath, data, next); err != nil {
			return err
		}
	}
	m.cfg = next
	return nil
}

// commitSealedLocked is commitLocked for a change that brings the camera
// id's password, sealed: it is stored in the vault after next validates and
// before the config that refers to it is written.
func (m *cameraManager) commitSealedLocked(next *config.Config, id string, sealed []byte) error {
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
func (m *cameraManager) dropCredentialLocked(before, after *config.Camera) {
	if before == nil || before.Credential == "" || (after != nil && after.Credential != "") {
		return
	}
	if err := m.creds.remove(before.VaultName()); err != nil {
		m.log.Warn("vault: stale camera password not removed", "camera", before.ID, "err", err)
	}
}

// SealInlineCredentials runs at daemon start, after the check for outside
// edits (R16) and before the cameras start: a password written inline in
// a camera source (edgerec.yaml edited by hand) is moved into the vault and
// the config file is rewritten with the reference and recorded as the
// device's own write, audited "camera.credential_sealed" per camera
// (without the password). Moving a password changes no coverage. If the
// file cannot be rewritten, the cameras still record with the inline
// password and the error is returned.
func (m *cameraManager) SealInlineCredentials() error {
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

func (m *cameraManager) cloneLocked() *config.Config {
	c := *m.cfg
	c.Cameras = slices.Clone(m.cfg.Cameras)
	return &c
}

// Config is the current config.
func (m *cameraManager) Config() *config.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// Cameras returns the configured cameras.
func (m *cameraManager) Cameras() []config.Camera {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.cfg.Cameras)
}

// Camera returns one configured camera.
func (m *cameraManager) Camera(id string) (config.Camera, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.cfg.Cameras {
		if c.ID == id {
			return c, nil
		}
	}
	return config.Camera{}, fmt.Errorf("%w: %q", ErrUnknownCamera, id)
}

// AddCamera adds and starts a camera. A camera that policy forbids (R1, R3)
// or whose id is taken is refused with the reason and nothing changes.
func (m *cameraManager) AddCamera(ctx context.Context, actor string, c config.Camera) error {
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

// UpdateCamera replaces a camera's settings and restarts it.
func (m *cameraManager) UpdateCamera(ctx context.Context, actor string, c config.Camera) error {
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
	if kind := classifyChange(&before, &c); kind != "" {
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

// RemoveCamera proposes removing a camera: it stops and leaves the config
// only under an approved coverage grant (R27, ApplyCoverage). Its footage
// stays until retention erases it.
func (m *cameraManager) RemoveCamera(ctx context.Context, actor, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cloneLocked()
	i := slices.IndexFunc(next.Cameras, func(x config.Camera) bool { return x.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownCamera, id)
	}
	return m.proposeLocked(&next.Cameras[i], nil, grants.KindRemove, nil) // R27: waits for approval
}

// SetMasks replaces a camera's masks: validated, persisted, audited, and
// applied to the running camera at the next picture (recording and live
// view at once, R2) — if no pixel is less masked than before; otherwise
// it is proposed and waits for approval (R27).
func (m *cameraManager) SetMasks(ctx context.Context, actor, id string, masks []config.Mask) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cloneLocked()
	i := slices.IndexFunc(next.Cameras, func(x config.Camera) bool { return x.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownCamera, id)
	}
	before := next.Cameras[i]
	next.Cameras[i].Masks = slices.Clone(masks)
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
		if err := rc.cam.SetMasks(next.Cameras[i].MaskList()); err != nil {
			return err // validated above; cannot happen
		}
	}
	return nil
}

// Hub gives the masked coded stream of a running camera (live view).
func (m *cameraManager) Hub(id string) (*pipeline.Hub, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rc, ok := m.running[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q is not recording", ErrUnknownCamera, id)
	}
	return rc.cam.Hub(), nil
}

// Snapshot is the last masked picture of a running camera.
func (m *cameraManager) Snapshot(ctx context.Context, id string) (image.Image, time.Time, error) {
	m.mu.Lock()
	rc, ok := m.running[id]
	m.mu.Unlock()
	if !ok {
		return nil, time.Time{}, fmt.Errorf("%w: %q", web.ErrUnknownCamera, id)
	}
	return rc.cam.Snapshot()
}
