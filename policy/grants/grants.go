package grants

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/edgerec/edgerec/policy/kind"
	"github.com/edgerec/edgerec/policy/perm"
)

// Actions a request can ask for.
const (
	Playback     = "playback"
	Export       = "export"
	LegalHold    = "legal_hold"
	Decommission = "decommission"
	AssignRole   = "role"
	// Update installs an uploaded system update bundle (issue 16, R21):
	// an admin uploads and requests, an approver approves; Digest is the
	// bundle's SHA-256. Used once (CheckApply).
	Update = "update"
)

// Statuses as stored. Expiry is not stored: State derives it from the clock,
// so a grant expires by itself even if nothing writes.
const (
	Requested = "requested"
	Approved  = "approved"
	Denied    = "denied"
	Revoked   = "revoked"
	// Derived by State only:
	Lapsed  = "lapsed"  // a request nobody decided before RequestExpires
	Expired = "expired" // an issued grant past Expires
)

// Errors (wrapped with the field or the reason).
var (
	ErrInvalid        = kind.New(kind.Invalid, "invalid request")
	ErrValidity       = kind.New(kind.Invalid, "validity out of bounds")
	ErrTimeRange      = kind.New(kind.Invalid, "bad time range")
	ErrSelfApproval   = kind.New(kind.Forbidden, "requester cannot approve or deny their own request (four eyes)")
	ErrNotApprover    = kind.New(kind.Forbidden, "not allowed to approve")
	ErrNotPending     = kind.New(kind.Conflict, "request is not pending")
	ErrRequestExpired = kind.New(kind.Conflict, "request expired before a decision")
	ErrNotActive      = kind.New(kind.Forbidden, "grant is not active")
	ErrOutOfScope     = kind.New(kind.Forbidden, "outside the grant's scope")
	ErrNotHolder      = kind.New(kind.Forbidden, "grant belongs to another user")
	ErrForbidden      = kind.New(kind.Forbidden, "role may not request this")
	ErrNotRevocable   = kind.New(kind.Forbidden, "not allowed to revoke")
)

// Actor is who acts: a user id and that user's current role.
type Actor struct {
	ID   string
	Role perm.Role
}

// Limits is the policy that bounds requests.
type Limits struct {
	// MaxValidity bounds footage and decommission grants (config
	// policy.grant_max_validity, default 72h).
	MaxValidity time.Duration
	// RoleMaxValidity bounds role assignments (default 365 days).
	RoleMaxValidity time.Duration
	// RequestTTL: an undecided request lapses after this (default 72h).
	RequestTTL time.Duration
	// MaxRange bounds a footage time range (default 400 days, the
	// retention ceiling's upper limit).
	MaxRange time.Duration
}

// WithDefaults fills zero fields.
func (l Limits) WithDefaults() Limits {
	if l.MaxValidity == 0 {
		l.MaxValidity = 72 * time.Hour
	}
	if l.RoleMaxValidity == 0 {
		l.RoleMaxValidity = 365 * 24 * time.Hour
	}
	if l.RequestTTL == 0 {
		l.RequestTTL = 72 * time.Hour
	}
	if l.MaxRange == 0 {
		l.MaxRange = 400 * 24 * time.Hour
	}
	return l
}

// Request is what a requester files.
type Request struct {
	Action   string
	Purpose  string
	Validity time.Duration
	// Footage actions.
	Cameras  []string
	From, To time.Time
	// AssignRole.
	Subject    string
	Role       string
	Supersedes string
	// Coverage (R27): Cameras holds the one camera; see coverage.go.
	Kind   string
	Digest string
}

// footagePerm maps footage actions to the permission a holder's role needs.
func actionPerm(action string) (perm.Permission, bool) {
	switch action {
	case Playback:
		return perm.Playback, true
	case Export:
		return perm.Export, true
	case LegalHold:
		return perm.LegalHold, true
	case Decommission:
		return perm.Decommission, true
	case AssignRole:
		return perm.UsersManage, true
	case Coverage:
		return perm.CamerasManage, true
	case Update:
		return perm.DeviceUpdate, true
	}
	return "", false
}

// IsFootage reports whether action touches recorded footage.
func IsFootage(action string) bool {
	return action == Playback || action == Export || action == LegalHold
}

// NewID returns a fresh opaque grant id, "g-" and 20 hex digits.
func NewID() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("grant id: %w", err)
	}
	return "g-" + hex.EncodeToString(b[:]), nil
}

// CheckText validates a short identifier-like or free text field: UTF-8, no
// control characters, not empty, at most max bytes.
func CheckText(field, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalid, field)
	}
	if len(s) > max {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, field, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%w: %s contains a control character (%U)", ErrInvalid, field, r)
		}
	}
	return nil
}

// New validates r for requester and returns the pending request. Nothing is
// written; the caller stores it.
func New(id string, r Request, by Actor, m *perm.Matrix, lim Limits, now time.Time) (Grant, error) {
	lim = lim.WithDefaults()
	p, ok := actionPerm(r.Action)
	if !ok {
		return Grant{}, fmt.Errorf("%w: action %q (want playback, export, legal_hold, decommission, role, coverage or update)", ErrInvalid, r.Action)
	}
	if err := CheckText("purpose", r.Purpose, 500); err != nil {
		return Grant{}, err
	}
	if r.Action == Coverage {
		if err := mayRequestCoverage(r, by, m); err != nil {
			return Grant{}, err
		}
	} else if r.Action == AssignRole || r.Action == Update {
		if !m.Allows(by.Role, p) {
			if r.Action == Update {
				return Grant{}, fmt.Errorf("%w: role %q cannot request an update", ErrForbidden, by.Role)
			}
			return Grant{}, fmt.Errorf("%w: role %q cannot request role assignments", ErrForbidden, by.Role)
		}
	} else if !m.MayHoldGrant(by.Role, p) {
		return Grant{}, fmt.Errorf("%w: role %q cannot hold a %s grant", ErrForbidden, by.Role, r.Action)
	}
	maxV := lim.MaxValidity
	if r.Action == AssignRole {
		maxV = lim.RoleMaxValidity
	}
	if r.Validity <= 0 {
		return Grant{}, fmt.Errorf("%w: validity %v must be positive", ErrValidity, r.Validity)
	}
	if r.Validity > maxV {
		return Grant{}, fmt.Errorf("%w: validity %v exceeds the policy maximum %v", ErrValidity, r.Validity, maxV)
	}
	g := Grant{ID: id, Action: r.Action, Purpose: r.Purpose, Requester: by.ID, RequesterRole: string(by.Role),
		Created: now.UnixNano(), RequestExpires: now.Add(lim.RequestTTL).UnixNano(), Validity: int64(r.Validity), Status: Requested}
	switch {
	case IsFootage(r.Action):
		if err := checkCameras(r.Cameras, true); err != nil {
			return Grant{}, err
		}
		if r.From.IsZero() || r.To.IsZero() {
			return Grant{}, fmt.Errorf("%w: from and to are required (an unbounded range is refused)", ErrTimeRange)
		}
		if !r.From.Before(r.To) {
			return Grant{}, fmt.Errorf("%w: from %s is not before to %s", ErrTimeRange, r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
		}
		if r.To.Sub(r.From) > lim.MaxRange {
			return Grant{}, fmt.Errorf("%w: range %v is longer than %v", ErrTimeRange, r.To.Sub(r.From), lim.MaxRange)
		}
		g.Cameras, g.From, g.To = slices.Clone(r.Cameras), r.From.UnixNano(), r.To.UnixNano()
	case r.Action == Coverage:
		if err := checkCoverage(r); err != nil {
			return Grant{}, err
		}
		g.Cameras, g.Kind, g.Digest = slices.Clone(r.Cameras), r.Kind, r.Digest
	case r.Action == Update:
		if err := checkUpdate(r); err != nil {
			return Grant{}, err
		}
		g.Digest = r.Digest
	case r.Action == AssignRole:
		if err := CheckText("subject", r.Subject, 64); err != nil {
			return Grant{}, err
		}
		role, err := perm.ParseRole(r.Role)
		if err != nil {
			return Grant{}, fmt.Errorf("%w: role: %w", ErrInvalid, err)
		}
		if err := checkCameras(r.Cameras, false); err != nil {
			return Grant{}, err
		}
		g.Subject, g.Role, g.Cameras, g.Supersedes = r.Subject, string(role), slices.Clone(r.Cameras), r.Supersedes
	default: // decommission
		if len(r.Cameras) != 0 || !r.From.IsZero() || !r.To.IsZero() {
			return Grant{}, fmt.Errorf("%w: decommission takes no cameras or time range", ErrInvalid)
		}
	}
	return g, nil
}

func checkCameras(cams []string, required bool) error {
	if required && len(cams) == 0 {
		return fmt.Errorf("%w: cameras: at least one camera is required", ErrInvalid)
	}
	if len(cams) > 64 {
		return fmt.Errorf("%w: cameras: more than 64", ErrInvalid)
	}
	seen := make(map[string]bool, len(cams))
	for _, c := range cams {
		if err := CheckText("camera id", c, 64); err != nil {
			return err
		}
		if seen[c] {
			return fmt.Errorf("%w: cameras: %q listed twice", ErrInvalid, c)
		}
		seen[c] = true
	}
	return nil
}

// State is the effective status at now: Requested, Lapsed, Approved,
// Expired, Denied or Revoked.
func (g *Grant) State(now time.Time) string {
	t := now.UnixNano()
	switch g.Status {
	case Requested:
		if t >= g.RequestExpires {
			return Lapsed
		}
	case Approved:
		if t >= g.Expires {
			return Expired
		}
	}
	return g.Status
}

// Active reports whether the grant is issued, unexpired and unrevoked.
func (g *Grant) Active(now time.Time) bool {
	return g.State(now) == Approved && now.UnixNano() >= g.Issued
}

func (g *Grant) checkDecider(by Actor, m *perm.Matrix, now time.Time) error {
	switch st := g.State(now); st {
	case Requested:
	case Lapsed:
		return fmt.Errorf("%w: %s lapsed at %s", ErrRequestExpired, g.ID, time.Unix(0, g.RequestExpires).UTC().Format(time.RFC3339))
	default:
		return fmt.Errorf("%w: %s is %s", ErrNotPending, g.ID, st)
	}
	if by.ID == g.Requester {
		return fmt.Errorf("%w: %s", ErrSelfApproval, g.ID)
	}
	if g.Action == AssignRole && by.ID == g.Subject {
		return fmt.Errorf("%w: %s assigns a role to the approver", ErrSelfApproval, g.ID)
	}
	if !m.Allows(by.Role, perm.GrantsApprove) {
		return fmt.Errorf("%w: role %q", ErrNotApprover, by.Role)
	}
	return nil
}

// Approve records by's approval and, as every action needs one approver
// who is neither the requester nor (for a role) its subject, issues the
// grant: Issued = now, Expires = now + Validity. Decommission needs an
// admin and an approver: New only lets an admin request it, and this adds
// the approver. On error g is unchanged.
func (g *Grant) Approve(by Actor, m *perm.Matrix, now time.Time) error {
	if err := g.checkDecider(by, m, now); err != nil {
		return err
	}
	g.Approvals = append(g.Approvals, Approval{By: by.ID, Role: string(by.Role), At: now.UnixNano()})
	g.issue(now)
	return nil
}

// ApproveBootstrap issues a role assignment of the approver role on its
// requester's (an admin's) own say, for the first approver of a device that
// has none. The caller must have checked that no active approver exists.
func (g *Grant) ApproveBootstrap(by Actor, now time.Time) error {
	if g.State(now) != Requested {
		return fmt.Errorf("%w: %s is %s", ErrNotPending, g.ID, g.State(now))
	}
	if g.Action != AssignRole || g.Role != string(perm.Approver) || by.ID != g.Requester || by.Role != perm.Admin || g.Subject == by.ID {
		return fmt.Errorf("%w: bootstrap approval is only for an admin assigning the first approver to someone else", ErrNotApprover)
	}
	g.Approvals = append(g.Approvals, Approval{By: by.ID, Role: string(by.Role), At: now.UnixNano(), Bootstrap: true})
	g.issue(now)
	return nil
}

func (g *Grant) issue(now time.Time) {
	g.Status, g.Issued, g.Expires = Approved, now.UnixNano(), now.Add(time.Duration(g.Validity)).UnixNano()
}

// Deny refuses a pending request with a reason.
func (g *Grant) Deny(by Actor, reason string, m *perm.Matrix, now time.Time) error {
	if err := CheckText("reason", reason, 500); err != nil {
		return err
	}
	if err := g.checkDecider(by, m, now); err != nil {
		return err
	}
	g.Status, g.DecidedBy, g.DecidedAt, g.Reason = Denied, by.ID, now.UnixNano(), reason
	return nil
}

// Revoke ends a pending request or an active grant with a reason. The
// requester may withdraw their own; otherwise the role needs grants.revoke.
func (g *Grant) Revoke(by Actor, reason string, m *perm.Matrix, now time.Time) error {
	if err := CheckText("reason", reason, 500); err != nil {
		return err
	}
	if st := g.State(now); st != Requested && st != Approved {
		return fmt.Errorf("%w: %s is %s", ErrNotActive, g.ID, st)
	}
	if by.ID != g.Requester && !m.Allows(by.Role, perm.GrantsRevoke) {
		return fmt.Errorf("%w: role %q", ErrNotRevocable, by.Role)
	}
	g.Status, g.DecidedBy, g.DecidedAt, g.Reason = Revoked, by.ID, now.UnixNano(), reason
	return nil
}

// Use is one use of a grant.
type Use struct {
	Action   string
	Camera   string    // footage actions
	From, To time.Time // footage actions: the range used, inside the grant's
}

// CheckUse reports whether by may use g for u at now: g is active (issued,
// unexpired, unrevoked), held by by, for this action, this camera and a
// range inside the granted one. On success it counts the use (the caller
// stores g and audits the use citing g.ID).
func (g *Grant) CheckUse(by Actor, u Use, now time.Time) error {
	if !g.Active(now) {
		return fmt.Errorf("%w: %s is %s", ErrNotActive, g.ID, g.State(now))
	}
	if by.ID != g.Requester {
		return fmt.Errorf("%w: %s", ErrNotHolder, g.ID)
	}
	if u.Action != g.Action {
		return fmt.Errorf("%w: %s grants %s, not %s", ErrOutOfScope, g.ID, g.Action, u.Action)
	}
	if IsFootage(g.Action) {
		if !slices.Contains(g.Cameras, u.Camera) {
			return fmt.Errorf("%w: camera %q is not in %s", ErrOutOfScope, u.Camera, g.ID)
		}
		if u.From.IsZero() || u.To.IsZero() || u.To.Before(u.From) {
			return fmt.Errorf("%w: bad range for %s", ErrTimeRange, g.ID)
		}
		if u.From.UnixNano() < g.From || u.To.UnixNano() > g.To {
			return fmt.Errorf("%w: range %s..%s is outside %s", ErrOutOfScope,
				u.From.UTC().Format(time.RFC3339), u.To.UTC().Format(time.RFC3339), g.ID)
		}
	} else if u.Camera != "" || !u.From.IsZero() || !u.To.IsZero() {
		return fmt.Errorf("%w: %s takes no camera or range", ErrOutOfScope, g.ID)
	}
	g.Uses++
	g.LastUse = now.UnixNano()
	return nil
}

// Summary is a one-line description with ids only (for audit details).
func (g *Grant) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", g.Action, g.ID)
	if IsFootage(g.Action) {
		fmt.Fprintf(&b, " cameras=%d %s..%s", len(g.Cameras), time.Unix(0, g.From).UTC().Format(time.RFC3339), time.Unix(0, g.To).UTC().Format(time.RFC3339))
	}
	if g.Action == AssignRole {
		fmt.Fprintf(&b, " subject=%s role=%s", g.Subject, g.Role)
	}
	if g.Action == Coverage {
		fmt.Fprintf(&b, " camera=%s kind=%s digest=%s", strings.Join(g.Cameras, ","), g.Kind, g.Digest)
	}
	if g.Action == Update {
		fmt.Fprintf(&b, " digest=%s", g.Digest)
	}
	fmt.Fprintf(&b, " validity=%s", time.Duration(g.Validity))
	return b.String()
}

// Decode decodes a stored grant strictly (no trailing bytes) and checks the
// invariants the state machine keeps, so a damaged row is refused rather
// than trusted.
func Decode(v []byte) (Grant, error) {
	var g Grant
	rest, err := g.UnmarshalMsg(v)
	if err != nil {
		return Grant{}, fmt.Errorf("grant record: %w", err)
	}
	if len(rest) != 0 {
		return Grant{}, fmt.Errorf("grant record: %d trailing bytes", len(rest))
	}
	if !strings.HasPrefix(g.ID, "g-") {
		return Grant{}, fmt.Errorf("grant record: bad id %q", g.ID)
	}
	if _, ok := actionPerm(g.Action); !ok {
		return Grant{}, fmt.Errorf("grant record %s: action %q", g.ID, g.Action)
	}
	if g.Action == Coverage {
		if err := checkCoverage(Request{Cameras: g.Cameras, Kind: g.Kind, Digest: g.Digest}); err != nil {
			return Grant{}, fmt.Errorf("grant record %s: %w", g.ID, err)
		}
	}
	if g.Action == Update {
		if err := checkUpdate(Request{Digest: g.Digest}); err != nil {
			return Grant{}, fmt.Errorf("grant record %s: %w", g.ID, err)
		}
	}
	switch g.Status {
	case Requested, Denied, Revoked:
	case Approved:
		if len(g.Approvals) == 0 || g.Expires <= g.Issued || g.Expires-g.Issued != g.Validity {
			return Grant{}, fmt.Errorf("grant record %s: approved without approval or with bad validity", g.ID)
		}
		for _, a := range g.Approvals {
			if a.By == g.Requester && !a.Bootstrap {
				return Grant{}, fmt.Errorf("grant record %s: approved by its requester", g.ID)
			}
		}
	default:
		return Grant{}, fmt.Errorf("grant record %s: status %q", g.ID, g.Status)
	}
	return g, nil
}
