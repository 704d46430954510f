package web

import (
	"context"
	"time"

	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/review"
	"github.com/edgerec/edgerec/policy/users"
)

// Policy is what the LAN page needs of the policy store (pass the
// *policy.Store itself): three small parts, each declared here by the
// handlers that use it (issue 15).
type Policy interface {
	Accounts
	Requests
	AuditLog
	Maintenance
}

// Maintenance: the technicians' visit records (issue 18).
type Maintenance interface {
	RecordVisit(ctx context.Context, actorID string, cameras []string, work string) (policy.Visit, error)
	Visits(ctx context.Context, actorID string, from, to time.Time) ([]policy.Visit, error)
}

// Accounts: sign-in, the permission check and account management.
type Accounts interface {
	Bootstrap(ctx context.Context, name string, pw []byte) (policy.Principal, error)
	Authenticate(ctx context.Context, name string, pw []byte) (policy.Principal, error)
	Principal(ctx context.Context, userID string) (policy.Principal, error)
	Check(ctx context.Context, userID string, p perm.Permission, camera string) error
	CreateUser(ctx context.Context, actorID, name string, pw []byte) (string, error)
	SetPassword(ctx context.Context, actorID, userID string, old, pw []byte) error
	SetTraining(ctx context.Context, actorID, userID string, date time.Time) error
	SetDisabled(ctx context.Context, actorID, userID string, disabled bool, reason string) error
	Users(ctx context.Context) ([]users.User, error)
}

// Requests: four-eyes requests and the grants they become, their use, and
// the permission review report.
type Requests interface {
	Request(ctx context.Context, actorID string, r grants.Request) (grants.Grant, error)
	Approve(ctx context.Context, actorID, id string) (grants.Grant, error)
	Deny(ctx context.Context, actorID, id, reason string) (grants.Grant, error)
	Revoke(ctx context.Context, actorID, id, reason string) (grants.Grant, error)
	ReleaseHold(ctx context.Context, actorID, id, reason string) (grants.Grant, error)
	Grant(ctx context.Context, id string) (grants.Grant, error)
	Grants(ctx context.Context) ([]grants.Grant, error)
	UseGrant(ctx context.Context, id, actorID, action, camera string, from, to time.Time) error
	Review(ctx context.Context) (review.Report, error)
}

// AuditLog: writing, reading and verifying the audit chain.
type AuditLog interface {
	Audit(ctx context.Context, e audit.Event) (audit.Record, error)
	AuditAfter(ctx context.Context, seq uint64, max int) ([]audit.Record, error)
	Head() (uint64, [32]byte)
	VerifyAudit(ctx context.Context) (audit.Report, error)
}

// permission is what a route requires: a row of the policy permission table
// (policy/PERMISSIONS.md) or one of the two pseudo-permissions below.
type permission = perm.Permission

const (
	// permPublic needs no session (login, setup, the login page, assets).
	permPublic permission = "public"
	// permSession needs a valid session and nothing else (logout, me).
	permSession permission = "session"
)

// principal is the user of a session. Its role is re-read from the policy
// store on every request (a revoked role takes effect at once).
type principal struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Role    perm.Role `json:"role"`
	Trained bool      `json:"trained"`
	// MustChange: the password was set by an admin; the account may only
	// change it (policy.ErrMustChange). The page sends it to /account.
	MustChange bool `json:"must_change"`
	// session is the ref of the login session the request came with ("" for
	// public routes); live views are bound to it.
	session string
}

func principalFrom(p policy.Principal) principal {
	return principal{ID: p.ID, User: p.Name, Role: p.Role, Trained: p.Trained, MustChange: p.MustChange}
}
