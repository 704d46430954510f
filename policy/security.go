package policy

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/users"
)

// Security event codes (SecurityEvent.Code). They name what ops must see
// upstream even when the attempt failed (issue 12): an admin trying to get
// around four eyes shows up as one of these.
const (
	SecBootstrapUsed    = "bootstrap_used"    // the one-time first-approver exception was used
	SecBootstrapRefused = "bootstrap_refused" // someone tried it again
	SecPasswordReset    = "password_reset"    // an admin reset another account's password
	SecApproverDisabled = "approver_disabled" // an approver (or a video role) was disabled
	SecRoleRevoked      = "role_revoked"      // a role assignment was revoked
	SecSelfApproval     = "self_approval"     // a refused attempt to approve one's own request
)

// SecurityEvent is one security-relevant account or approval action,
// reported after its transaction committed (Deps.Security). It carries ids
// only.
type SecurityEvent struct {
	Code   string
	Actor  string
	Target string
	OK     bool
	Time   time.Time
}

func (s *Store) security(code, actor, target string, ok bool) {
	if s.notify == nil {
		return
	}
	s.notify(SecurityEvent{Code: code, Actor: actor, Target: target, OK: ok, Time: s.now()})
}

// metaBootstrap records, once in the device's life, that the first-approver
// exception was used (value: the grant id). It is never deleted.
var metaBootstrap = []byte("bootstrap.approver")

func bootstrapUsed(tx *bolt.Tx) bool { return tx.Bucket(bucketMeta).Get(metaBootstrap) != nil }

// heldSince returns when u's current role assignment was issued (0 when u
// holds no role now).
func heldSince(tx *bolt.Tx, u *users.User, now time.Time) (int64, error) {
	if u.CurrentRole(now) == "" || u.RoleGrant == "" {
		return 0, nil
	}
	g, err := getGrant(tx, u.RoleGrant)
	if err != nil {
		return 0, err
	}
	return g.Issued, nil
}

// checkSeniority refuses an approval by an approver whose approver role was
// issued after the request was filed: the second person must have held the
// role before the request existed (policy doc, the invariant).
func checkSeniority(tx *bolt.Tx, approver *users.User, g *grants.Grant, now time.Time) error {
	if perm.Role(approver.CurrentRole(now)) != perm.Approver {
		return nil // grants.Approve refuses non-approvers with its own error
	}
	since, err := heldSince(tx, approver, now)
	if err != nil {
		return err
	}
	if since == 0 || since > g.Created {
		return fmt.Errorf("%w: %s became approver after request %s was filed; an approver who held the role before the request must decide",
			ErrForbidden, approver.ID, g.ID)
	}
	return nil
}

// stripAccess ends what a reset account could use without its owner: its
// role assignment and its pending or active footage grants (approved legal
// holds stay: releasing evidence is an approver's decision, R8). Each
// revocation is audited as by actorID with reason.
func (s *Store) stripAccess(tx *bolt.Tx, actorID string, u *users.User, reason string, now time.Time) error {
	var ends []grants.Grant // collected first: no writes while a cursor walks the bucket
	err := tx.Bucket(bucketGrants).ForEach(func(k, v []byte) error {
		g, err := grants.Decode(v)
		if err != nil {
			return fmt.Errorf("%w: grant %s: %w", ErrCorrupt, k, err)
		}
		st := g.State(now)
		mine := g.Requester == u.ID && g.Action != grants.AssignRole
		role := g.Action == grants.AssignRole && g.Subject == u.ID
		switch {
		case !(mine || role) || (st != grants.Requested && st != grants.Approved):
		case mine && g.Action == grants.LegalHold && st == grants.Approved:
		default:
			ends = append(ends, g)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range ends {
		g := &ends[i]
		g.Status, g.DecidedBy, g.DecidedAt, g.Reason = grants.Revoked, actorID, now.UnixNano(), reason
		if err := putGrant(tx, g); err != nil {
			return err
		}
		if _, err := s.audit.AppendTx(tx, audit.Event{Actor: actorID, Action: "grant.revoke", TargetKind: audit.KindGrant, Target: g.ID,
			Grant: g.ID, Result: audit.ResultOK, Detail: reason}); err != nil {
			return err
		}
	}
	u.Role, u.RoleGrant, u.RoleExpires, u.Cameras = "", "", 0, nil
	return nil
}
