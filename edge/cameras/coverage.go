package cameras

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/schedule"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
)

// CoveragePolicy is the part of the policy store the manager needs for
// coverage changes (R27).
type CoveragePolicy interface {
	Grant(ctx context.Context, id string) (grants.Grant, error)
	Grants(ctx context.Context) ([]grants.Grant, error)
	UseCoverage(ctx context.Context, id, actorID, digest string) error
	RefuseCoverage(ctx context.Context, id, reason string) error
}

// classifyChange decides whether changing a camera from before to after
// applies at once ("") or needs an approved coverage grant, and of which
// kind (R27). before nil is an added camera, after nil a removed one.
//
//   - adding a camera, adding or enlarging a mask, pixelate → fill, and
//     changes that touch neither masks, zone nor source (name, signage,
//     lengthening retention, bitrate): at once (shortening retention is
//     retention_reduce, decided by Update and SetRetention with the
//     config's bounds: retentionShortened);
//
//   - removing the camera: remove;
//
//   - a zone change: zone_change; a source change (recording elsewhere or
//     not at all): source_change;
//
//   - any pixel less masked after than before on the fixed comparison grid
//     (mask.Weakened: a deleted, shrunk or moved mask, fill → pixelate):
//     mask_reduce. A mixed change (one mask added, another deleted) is a
//     reduction: the whole change waits.
//
//   - a narrower recording schedule (some minute of the week recorded before
//     is not after; adding a schedule to a camera that recorded always):
//     schedule_reduce; widening or removing the schedule applies at once.
//
// When several apply, the first in this order names the change: remove,
// zone_change, source_change, mask_reduce, schedule_reduce.
func classifyChange(before, after *config.Camera) string {
	switch {
	case before == nil:
		return ""
	case after == nil:
		return grants.KindRemove
	case before.Zone != after.Zone:
		return grants.KindZone
	case before.Source != after.Source:
		return grants.KindSource
	case mask.Weakened(before.MaskList(), after.MaskList(), mask.CompareW, mask.CompareH) > 0:
		return grants.KindMaskReduce
	case scheduleReduced(before, after):
		return grants.KindSchedule
	}
	return ""
}

// scheduleReduced: some minute of the week recorded under before's
// schedule is not under after's (schedule.Reduces; both validated, read
// in local time so the zone does not matter).
func scheduleReduced(before, after *config.Camera) bool {
	b, errB := config.ScheduleOf(*before, time.UTC)
	a, errA := config.ScheduleOf(*after, time.UTC)
	if errB != nil || errA != nil {
		return errA != nil // validated before; an unreadable one is not applied alone
	}
	return schedule.Reduces(b, a)
}

// cameraDigest is the SHA-256 (hex) of a camera's normalized settings
// ("" for no camera): equal digests mean the same recording and masks.
func cameraDigest(c *config.Camera) string {
	if c == nil {
		return ""
	}
	b, err := json.Marshal(c.Normalized())
	if err != nil { // plain data: cannot happen
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// proposal is a coverage change waiting for approval, kept as
// <data>/coverage/<digest>.json (0600, written atomically). The file name
// is the SHA-256 of its bytes and the grant records that digest, so the
// policy store seals it: a changed or swapped file is not applied.
type proposal struct {
	Camera string         `json:"camera"`
	Kind   string         `json:"kind"`
	Base   string         `json:"base"`  // cameraDigest of the camera when proposed
	After  *config.Camera `json:"after"` // nil: the camera is removed
	At     time.Time      `json:"at"`
	// SealedPassword is the new password of After typed with the change,
	// sealed by the vault for After's item (never in clear on disk); it
	// goes into the vault when the change is applied.
	SealedPassword []byte `json:"sealed_password,omitempty"`
}

func (m *Manager) proposalPath(digest string) string {
	return filepath.Join(m.propDir, digest+".json")
}

// proposeLocked keeps the change base → after of kind and returns the
// *web.NeedsApproval the page turns into a request. Nothing else changes.
func (m *Manager) proposeLocked(base, after *config.Camera, kind string, sealed []byte) error {
	if m.propDir == "" {
		return fmt.Errorf("%w: this device keeps no proposals (no data dir); the change needs an approver (R27)", web.ErrUnavailable)
	}
	p := proposal{Camera: base.ID, Kind: kind, Base: cameraDigest(base), After: after, At: time.Now().UTC(), SealedPassword: sealed}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("coverage proposal: %w", err)
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	if err := os.MkdirAll(m.propDir, 0o700); err != nil {
		return fmt.Errorf("coverage proposal: %w", err)
	}
	if err := writeFileAtomic(m.proposalPath(digest), data, 0o600); err != nil {
		return fmt.Errorf("coverage proposal: %w", err)
	}
	m.log.Info("coverage change waits for approval", "camera", base.ID, "kind", kind, "digest", digest)
	return &web.NeedsApproval{Change: web.CoverageChange{Camera: base.ID, Kind: kind, Digest: digest}}
}

// loadProposal reads the proposal of digest and checks that its bytes hash
// to digest.
func (m *Manager) loadProposal(digest string) (proposal, error) {
	var p proposal
	if m.propDir == "" || len(digest) != 64 || strings.ContainsAny(digest, "./\\") {
		return p, fmt.Errorf("no proposal %s", digest)
	}
	data, err := os.ReadFile(m.proposalPath(digest))
	if err != nil {
		return p, fmt.Errorf("proposal %s: %w", digest, err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != digest {
		return p, fmt.Errorf("proposal %s: content does not match its digest", digest)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("proposal %s: %w", digest, err)
	}
	return p, nil
}

// ApplyCoverage applies approved coverage grant id exactly as proposed
// (R27): the grant is consumed in the policy store (issued, unexpired,
// unrevoked, this digest, once; audited), the new config is validated,
// persisted and applied live, and "coverage.apply" is audited citing the
// grant. If the camera changed since the request, nothing is applied and
// the grant is revoked by the device (audited "coverage.conflict"); the
// error wraps web.ErrCoverageConflict.
func (m *Manager) ApplyCoverage(ctx context.Context, id, actor string) error {
	if m.cov == nil {
		return fmt.Errorf("%w: coverage changes", web.ErrUnavailable)
	}
	g, err := m.cov.Grant(ctx, id)
	if err != nil {
		return err
	}
	if g.Action != grants.Coverage {
		return fmt.Errorf("%w: %s is not a coverage change", web.ErrInvalid, id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applyLocked(ctx, &g, actor)
}

func (m *Manager) applyLocked(ctx context.Context, g *grants.Grant, actor string) error {
	if m.stopped {
		return fmt.Errorf("%w: the device is stopping", web.ErrUnavailable)
	}
	p, err := m.loadProposal(g.Digest)
	if err == nil && (len(g.Cameras) != 1 || p.Camera != g.Cameras[0] || p.Kind != g.Kind) {
		err = errors.New("proposal does not match the request")
	}
	if err != nil {
		return m.conflictLocked(ctx, g, "proposal missing or damaged: "+err.Error())
	}
	i := slices.IndexFunc(m.cfg.Cameras, func(x config.Camera) bool { return x.ID == p.Camera })
	var cur *config.Camera
	if i >= 0 {
		cur = &m.cfg.Cameras[i]
	}
	switch now := cameraDigest(cur); {
	case g.Uses > 0 && now == cameraDigest(p.After):
		_ = os.Remove(m.proposalPath(g.Digest)) // applied before a crash
		return nil
	case now != p.Base:
		return m.conflictLocked(ctx, g, "the camera's config changed since the request")
	}
	if g.Uses == 0 {
		if err := m.cov.UseCoverage(ctx, g.ID, actor, g.Digest); err != nil {
			return err
		}
	}
	next := m.cloneLocked()
	var before *config.Camera
	if i >= 0 {
		b := next.Cameras[i]
		before = &b
	}
	if p.After == nil {
		next.Cameras = slices.Delete(next.Cameras, i, i+1)
	} else {
		next.Cameras[i] = *p.After
	}
	if err := m.commitSealedLocked(next, p.Camera, p.SealedPassword); err != nil {
		m.auditEvent(audit.Event{Actor: actor, Action: "coverage.apply", TargetKind: audit.KindCamera, Target: p.Camera, Grant: g.ID,
			Result: "failed", Detail: err.Error()})
		return err
	}
	switch {
	case p.After == nil:
		m.stopLocked(p.Camera)
		m.tracker.RemoveCamera(p.Camera)
	case p.Kind == grants.KindRetention:
		// Only the retention sweep reads it (Retention): the camera keeps
		// recording without a restart.
	case p.Kind == grants.KindMaskReduce && m.running[p.Camera] != nil:
		if set, err := p.After.MaskSet(); err != nil { // validated with the config; cannot happen
			m.log.Error("coverage: masks not applied live; restarting the camera", "camera", p.Camera, "err", err)
			m.stopLocked(p.Camera)
			m.startLocked(*p.After)
		} else {
			m.running[p.Camera].cam.SetMasks(set)
		}
	default:
		m.stopLocked(p.Camera)
		m.startLocked(*p.After)
	}
	m.dropCredentialLocked(before, p.After)
	_ = os.Remove(m.proposalPath(g.Digest))
	m.log.Info("coverage change applied", "camera", p.Camera, "kind", p.Kind, "grant", g.ID)
	m.auditEvent(audit.Event{Actor: actor, Action: "coverage.apply", TargetKind: audit.KindCamera, Target: p.Camera, Grant: g.ID,
		Result: audit.ResultOK, Detail: "kind=" + p.Kind + " digest=" + g.Digest})
	return nil
}

func (m *Manager) conflictLocked(ctx context.Context, g *grants.Grant, reason string) error {
	if err := m.cov.RefuseCoverage(ctx, g.ID, reason); err != nil {
		m.log.Error("coverage: refuse", "grant", g.ID, "err", err)
	}
	_ = os.Remove(m.proposalPath(g.Digest))
	return fmt.Errorf("%w (%s: %s)", web.ErrCoverageConflict, g.ID, reason)
}

// applyApproved runs in Run, after the cameras started: it applies the
// coverage changes approved while the daemon was not running (or consumed
// but not finished before a crash), each once, and deletes proposals that
// no pending or approved request refers to any more.
func (m *Manager) applyApproved(ctx context.Context) {
	if m.cov == nil || m.propDir == "" {
		return
	}
	gs, err := m.cov.Grants(ctx)
	if err != nil {
		m.log.Error("coverage: read grants", "err", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := map[string]bool{}
	now := time.Now()
	for i := range gs {
		g := &gs[i]
		if g.Action != grants.Coverage {
			continue
		}
		if _, err := os.Stat(m.proposalPath(g.Digest)); err != nil {
			continue
		}
		switch st := g.State(now); {
		case st == grants.Requested:
			keep[g.Digest] = true
		case g.Status == grants.Approved && (g.Uses > 0 || st == grants.Approved):
			if err := m.applyLocked(ctx, g, actorDevice); err != nil {
				m.log.Warn("coverage: approved change not applied", "grant", g.ID, "err", err)
			}
		}
	}
	ents, _ := os.ReadDir(m.propDir)
	for _, e := range ents {
		if d := strings.TrimSuffix(e.Name(), ".json"); !keep[d] {
			_ = os.Remove(filepath.Join(m.propDir, e.Name()))
		}
	}
}
