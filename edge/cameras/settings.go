package cameras

import (
	"context"
	"fmt"
	"slices"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy/grants"
)

// The manager owns the whole config file, so it is also the Settings page's
// writer (issue 18): one writer, one lock, one atomic write with its record.
var _ web.Settings = (*Manager)(nil)

// ChangeSettings applies change to a copy of the current config, validates
// the copy as a whole, writes it to the config file (WriteConfigFile, with
// its record) and makes it current (web.Settings, issue 18). A change that
// fails, does not validate or touches the cameras changes nothing, not
// even the file: cameras change only through the camera methods (R27).
// What the change means for running parts (the LAN allowlist, the uplink,
// the GPIO pins) is the caller's business; the manager applies nothing
// but the file and its own copy.
func (m *Manager) ChangeSettings(ctx context.Context, change func(*config.Config) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := deepCopy(m.cfg)
	if err := change(next); err != nil {
		return err
	}
	if !slices.EqualFunc(next.Cameras, m.cfg.Cameras, func(a, b config.Camera) bool { return cameraDigest(&a) == cameraDigest(&b) }) {
		return fmt.Errorf("%w: settings may not change cameras", web.ErrInvalid)
	}
	return m.commitLocked(next)
}

// deepCopy copies c with its own slices and uplink section, so that a
// change made to the copy cannot reach the current config.
func deepCopy(c *config.Config) *config.Config {
	n := *c
	n.Cameras = slices.Clone(c.Cameras)
	for i := range n.Cameras {
		n.Cameras[i].Masks = slices.Clone(c.Cameras[i].Masks)
		n.Cameras[i].Schedule = slices.Clone(c.Cameras[i].Schedule)
	}
	n.LAN.Allowlist = slices.Clone(c.LAN.Allowlist)
	n.Policy.ProhibitedZones = slices.Clone(c.Policy.ProhibitedZones)
	n.Storage.TPMPCRs = slices.Clone(c.Storage.TPMPCRs)
	if c.Uplink != nil {
		u := *c.Uplink
		n.Uplink = &u
	}
	return &n
}

// SetRetention sets camera id's retention (R6; web.Settings). The value
// must lie within the policy's floor and ceiling (0 = the floor); the
// config's validation says so with the field. Keeping footage as long or
// longer applies at once (the retention sweep reads Retention; the camera
// keeps recording). Keeping it for less time reduces what is kept, so it
// is a coverage change (R27, grants.KindRetention): nothing changes, the
// proposal is kept and *web.NeedsApproval returned; an approver's grant
// applies it through ApplyCoverage.
func (m *Manager) SetRetention(ctx context.Context, id string, d config.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cloneLocked()
	i := slices.IndexFunc(next.Cameras, func(x config.Camera) bool { return x.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownCamera, id)
	}
	before := next.Cameras[i]
	next.Cameras[i].Retention = d
	if err := next.Validate(); err != nil {
		return err
	}
	after := next.Cameras[i]
	if retentionShortened(m.cfg, &before, &after) {
		return m.proposeLocked(&before, &after, grants.KindRetention, nil) // R27: waits for approval
	}
	return m.commitLocked(next)
}

// retentionShortened reports whether after keeps footage for less time
// than before under cfg's bounds (an unset retention is the floor).
func retentionShortened(cfg *config.Config, before, after *config.Camera) bool {
	if before == nil || after == nil {
		return false
	}
	return cfg.CameraRetention(*after) < cfg.CameraRetention(*before)
}
