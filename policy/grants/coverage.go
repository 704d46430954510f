package grants

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/edgerec/edgerec/policy/perm"
)

// Coverage is the action of a coverage-change request (R27): a change that
// removes or weakens surveillance privacy protection or changes what a
// camera covers — removing a camera, deleting, shrinking or weakening a
// privacy mask, changing its zone — needs an approver who is not the
// requester, like any grant. Adding coverage or a mask applies at once and
// needs no grant.
const Coverage = "coverage"

// Coverage change kinds, as recorded in Grant.Kind.
const (
	KindRemove     = "remove"      // remove a camera (its recording stops)
	KindMaskReduce = "mask_reduce" // a pixel masked before is not (or less) masked after
	KindZone       = "zone_change" // the camera's zone changes
	KindSource     = "source_change"
	// KindRetention shortens a camera's retention (issue 18, R6): less
	// footage is kept, so it reduces coverage like a mask deletion.
	KindRetention = "retention_reduce"
	// KindSchedule narrows a camera's recording schedule (issue 18, R30):
	// some time recorded before is not recorded after, which stops
	// recording then, like removing the camera for those hours.
	KindSchedule = "schedule_reduce"
)

// coverageKindPerm is the permission a requester's role needs for a kind:
// the one that lets the role make the change itself.
func coverageKindPerm(kind string) (perm.Permission, bool) {
	switch kind {
	case KindRemove, KindZone, KindSource, KindSchedule:
		return perm.CamerasManage, true
	case KindMaskReduce:
		return perm.MasksManage, true
	case KindRetention:
		return perm.ConfigChange, true
	}
	return "", false
}

// mayRequestCoverage: the requester's role must allow the change itself
// (cameras.manage or masks.manage); the grant is the second pair of eyes.
func mayRequestCoverage(r Request, by Actor, m *perm.Matrix) error {
	p, ok := coverageKindPerm(r.Kind)
	if !ok {
		return fmt.Errorf("%w: coverage kind %q (want remove, mask_reduce, zone_change, source_change, retention_reduce or schedule_reduce)", ErrInvalid, r.Kind)
	}
	if !m.Allows(by.Role, p) {
		return fmt.Errorf("%w: role %q cannot request a %s change (needs %s)", ErrForbidden, by.Role, r.Kind, p)
	}
	return nil
}

// checkCoverage validates the scope of a coverage request: exactly one
// camera, a known kind, a SHA-256 digest in lowercase hex, no time range,
// subject or role.
func checkCoverage(r Request) error {
	if _, ok := coverageKindPerm(r.Kind); !ok {
		return fmt.Errorf("%w: coverage kind %q", ErrInvalid, r.Kind)
	}
	if len(r.Cameras) != 1 {
		return fmt.Errorf("%w: a coverage change names exactly one camera", ErrInvalid)
	}
	if err := checkCameras(r.Cameras, true); err != nil {
		return err
	}
	if b, err := hex.DecodeString(r.Digest); err != nil || len(b) != 32 || hex.EncodeToString(b) != r.Digest {
		return fmt.Errorf("%w: coverage digest must be 64 lowercase hex digits", ErrInvalid)
	}
	if !r.From.IsZero() || !r.To.IsZero() || r.Subject != "" || r.Role != "" || r.Supersedes != "" {
		return fmt.Errorf("%w: a coverage change takes no time range, subject or role", ErrInvalid)
	}
	return nil
}

// CheckApply reports whether g may be applied now as the change with
// digest: a coverage or update grant, issued, unexpired, unrevoked, for exactly that
// digest, and not applied before (a coverage grant is used once). On
// success it counts the use; the caller stores g and audits citing g.ID.
func (g *Grant) CheckApply(digest string, now time.Time) error {
	if g.Action != Coverage && g.Action != Update {
		return fmt.Errorf("%w: %s grants %s, not coverage or update", ErrOutOfScope, g.ID, g.Action)
	}
	if !g.Active(now) {
		return fmt.Errorf("%w: %s is %s", ErrNotActive, g.ID, g.State(now))
	}
	if g.Uses > 0 {
		return fmt.Errorf("%w: %s was already applied", ErrNotActive, g.ID)
	}
	if digest != g.Digest {
		return fmt.Errorf("%w: the change differs from the one %s approved", ErrOutOfScope, g.ID)
	}
	g.Uses++
	g.LastUse = now.UnixNano()
	return nil
}

// checkUpdate validates an update request: a SHA-256 digest (the bundle's)
// in lowercase hex, and nothing else in scope.
func checkUpdate(r Request) error {
	if b, err := hex.DecodeString(r.Digest); err != nil || len(b) != 32 || hex.EncodeToString(b) != r.Digest {
		return fmt.Errorf("%w: update digest must be 64 lowercase hex digits", ErrInvalid)
	}
	if len(r.Cameras) != 0 || r.Kind != "" || !r.From.IsZero() || !r.To.IsZero() || r.Subject != "" || r.Role != "" || r.Supersedes != "" {
		return fmt.Errorf("%w: an update takes no cameras, kind, time range, subject or role", ErrInvalid)
	}
	return nil
}
