package policy

import (
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/kind"
	"github.com/edgerec/edgerec/policy/password"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/users"
)

// Actor ids that are not users.
const (
	ActorSystem    = "system"
	ActorAnonymous = "anonymous"
)

// Principal is an authenticated user as of a moment. Permission checks
// (Allowed, UseGrant) re-read the user, so a role revoked mid-session takes
// effect at once.
type Principal struct {
	ID      string    `json:"id"`
	Name    string    `json:"user"`
	Role    perm.Role `json:"role"` // "" when the user holds no role now
	Cameras []string  `json:"cameras,omitempty"`
	Trained bool      `json:"trained"`
	// MustChange: the password was set by someone else; nothing but
	// changing it is allowed (ErrMustChange).
	MustChange bool `json:"must_change"`
}

func principalOf(u *users.User, now time.Time) Principal {
	return Principal{ID: u.ID, Name: u.Name, Role: perm.Role(u.CurrentRole(now)), Cameras: slices.Clone(u.Cameras), Trained: u.Trained != 0, MustChange: u.MustChange}
}

const minPasswordLen = 10

func checkPassword(pw []byte) error {
	if len(pw) < minPasswordLen {
		return fmt.Errorf("%w: password shorter than %d bytes", ErrInvalid, minPasswordLen)
	}
	if len(pw) > 1024 {
		return fmt.Errorf("%w: password longer than 1024 bytes", ErrInvalid)
	}
	return nil
}

// ErrInvalid is returned for bad input (wrapped with the field).
var ErrInvalid = kind.New(kind.Invalid, "policy: invalid input")

// newUserTx creates a user row (no role) in tx whose password was set by
// by ("" = the user themself).
func (s *Store) newUserTx(tx *bolt.Tx, name string, h password.Hash, by string, now time.Time) (users.User, error) {
	if tx.Bucket(bucketNames).Get([]byte(name)) != nil {
		return users.User{}, fmt.Errorf("%w: username %q", ErrExists, name)
	}
	id, err := users.NewID()
	if err != nil {
		return users.User{}, err
	}
	sealed, err := sealHash(s.sealer, id, h.PHC())
	if err != nil {
		return users.User{}, err
	}
	u := users.User{ID: id, Name: name, Hash: sealed, Created: now.UnixNano(), PasswordBy: by, PasswordAt: now.UnixNano()}
	if by == "" {
		u.PasswordBy = id
	} else {
		u.MustChange = true // a password someone else knows (R11, issue 12)
	}
	if err := putUser(tx, &u); err != nil {
		return u, err
	}
	return u, tx.Bucket(bucketNames).Put([]byte(name), []byte(id))
}

// Bootstrap creates the first admin (the LAN page's one-time setup): only
// while the store has no user at all. The admin role assignment is issued
// by "system", valid for Limits.RoleMaxValidity, and audited.
func (s *Store) Bootstrap(ctx context.Context, name string, pw []byte) (Principal, error) {
	if err := users.CheckName(name); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := checkPassword(pw); err != nil {
		return Principal{}, err
	}
	h, err := password.New(pw, s.cfg.Password)
	if err != nil {
		return Principal{}, fmt.Errorf("policy: %w", err)
	}
	now := s.now()
	var p Principal
	err = s.update(ctx, func(tx *bolt.Tx) error {
		// Only on an empty store, or one that holds only the restored
		// accounts of a replaced device (no password, no role: Restore);
		// the first admin may then claim their restored account.
		var u users.User
		claimed := false
		if k, _ := tx.Bucket(bucketUsers).Cursor().First(); k != nil {
			ok, err := claimableTx(tx)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: users exist; bootstrap is only for the first admin", ErrForbidden)
			}
			if id := tx.Bucket(bucketNames).Get([]byte(name)); id != nil {
				if u, err = getUser(tx, string(id)); err != nil {
					return err
				}
				sealed, err := sealHash(s.sealer, u.ID, h.PHC())
				if err != nil {
					return err
				}
				u.Hash, u.PasswordBy, u.PasswordAt, u.Disabled = sealed, u.ID, now.UnixNano(), false
				claimed = true
			}
		}
		if !claimed {
			var err error
			if u, err = s.newUserTx(tx, name, h, "", now); err != nil {
				return err
			}
		}
		gid, err := grants.NewID()
		if err != nil {
			return err
		}
		v := s.cfg.Limits.RoleMaxValidity
		g := grants.Grant{ID: gid, Action: grants.AssignRole, Purpose: "first admin (setup)", Requester: ActorSystem,
			Created: now.UnixNano(), RequestExpires: now.UnixNano(), Validity: int64(v), Subject: u.ID, Role: string(perm.Admin),
			Status: grants.Approved, Approvals: []grants.Approval{{By: ActorSystem, At: now.UnixNano(), Bootstrap: true}},
			Issued: now.UnixNano(), Expires: now.Add(v).UnixNano()}
		if err := putGrant(tx, &g); err != nil {
			return err
		}
		u.Role, u.RoleGrant, u.RoleExpires = g.Role, g.ID, g.Expires
		if err := putUser(tx, &u); err != nil {
			return err
		}
		detail := "first admin created"
		if claimed {
			detail = "first admin (restored account claimed)"
		}
		if _, err := s.audit.AppendTx(tx, audit.Event{Actor: ActorSystem, Action: "user.bootstrap", TargetKind: audit.KindUser,
			Target: u.ID, Grant: g.ID, Result: audit.ResultOK, Detail: detail}); err != nil {
			return err
		}
		p = principalOf(&u, now)
		return nil
	})
	if err != nil {
		return Principal{}, fmt.Errorf("policy: bootstrap: %w", err)
	}
	s.log.Info("policy: first admin created", "user", p.ID)
	return p, nil
}

// CreateUser creates an account without a role (roles come only through
// a role assignment, RequestRole). actor needs users.manage.
func (s *Store) CreateUser(ctx context.Context, actorID, name string, pw []byte) (string, error) {
	if err := users.CheckName(name); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := checkPassword(pw); err != nil {
		return "", err
	}
	h, err := password.New(pw, s.cfg.Password)
	if err != nil {
		return "", fmt.Errorf("policy: %w", err)
	}
	now := s.now()
	var id string
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if err := s.requireTx(tx, actorID, perm.UsersManage, now); err != nil {
			return err
		}
		u, err := s.newUserTx(tx, name, h, actorID, now)
		if err != nil {
			return err
		}
		id = u.ID
		_, err = s.audit.AppendTx(tx, audit.Event{Actor: actorID, Action: "user.create", TargetKind: audit.KindUser, Target: u.ID, Result: audit.ResultOK})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("policy: create user: %w", err)
	}
	return id, nil
}

// requireTx checks that actorID is enabled and its role allows p.
func (s *Store) requireTx(tx *bolt.Tx, actorID string, p perm.Permission, now time.Time) error {
	_, a, err := s.actor(tx, actorID, now)
	if err != nil {
		return err
	}
	if !s.m.Allows(a.Role, p) {
		return fmt.Errorf("%w: role %q lacks %s", ErrForbidden, a.Role, p)
	}
	return nil
}

// Authenticate checks name and password (R22 lockout, R16 audit). It does
// the same work — one argon2id check with the configured parameters, one
// write transaction with one audit record — whether or not the user exists,
// is disabled or locked, and returns ErrBadCredentials for all of those
// alike; the audit record says which. Hashes and passwords are never logged.
func (s *Store) Authenticate(ctx context.Context, name string, pw []byte) (Principal, error) {
	if err := ctx.Err(); err != nil {
		return Principal{}, err
	}
	var u users.User
	found := false
	if users.CheckName(name) == nil {
		_ = s.view(ctx, func(tx *bolt.Tx) error {
			id := tx.Bucket(bucketNames).Get([]byte(name))
			if id == nil {
				return nil
			}
			var err error
			u, err = getUser(tx, string(id))
			found = err == nil
			return nil
		})
	}
	h := s.dummy
	var hashErr error
	if found {
		if u.Hash == "" {
			hashErr = errNoPassword // a restored account: an admin gives it a one-time password
		} else if ph, err := s.openHash(&u); err == nil {
			h = ph
		} else {
			hashErr = err // moved, foreign or damaged hash: nobody logs in with it
			s.log.Error("policy: stored password hash unusable", "user", u.ID, "err", err)
		}
	}
	pwOK := h.Verify(pw) && found && hashErr == nil
	now := s.now()
	var p Principal
	var reason string
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if !found {
			reason = "unknown user"
			_, err := s.audit.AppendTx(tx, audit.Event{Actor: ActorAnonymous, Action: "login", Result: audit.ResultFailed, Detail: reason})
			return err
		}
		cur, err := getUser(tx, u.ID)
		if err != nil {
			return err
		}
		switch {
		case hashErr != nil:
			reason = hashErr.Error()
		case cur.Disabled:
			reason = "account disabled"
		case cur.Locked(now):
			reason = "account locked after failed logins"
		case !pwOK || cur.Hash != u.Hash:
			reason = "wrong password"
			cur.Failures++
			if s.cfg.MaxFailures > 0 && cur.Failures >= s.cfg.MaxFailures {
				cur.LockedUntil = now.Add(s.cfg.LockFor).UnixNano()
				cur.Failures = 0
				reason = fmt.Sprintf("wrong password; locked for %s", s.cfg.LockFor)
			}
		}
		res := audit.ResultFailed
		if reason == "" {
			res = audit.ResultOK
			cur.Failures, cur.LockedUntil, cur.LastLogin = 0, 0, now.UnixNano()
			p = principalOf(&cur, now)
		}
		if err := putUser(tx, &cur); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, audit.Event{Actor: cur.ID, Action: "login", TargetKind: audit.KindUser, Target: cur.ID, Result: res, Detail: reason})
		return err
	})
	if err != nil {
		return Principal{}, fmt.Errorf("policy: authenticate: %w", err)
	}
	if reason != "" {
		return Principal{}, ErrBadCredentials
	}
	return p, nil
}

// SetPassword changes userID's password. A user changes their own (needs
// the old password, account.self; a password someone else set must be
// replaced by a different one). An admin (users.manage) resets another's:
// the new password is one-time (MustChange), and the reset ends what the
// account could use — its role assignment and its pending or active
// footage grants are revoked — so that knowing the one-time password gives
// the resetter nothing: the owner sets their own password and gets a role
// again only through the four-eyes role flow (the invariant in doc.go).
// A reset is announced upstream (SecPasswordReset).
func (s *Store) SetPassword(ctx context.Context, actorID, userID string, old, pw []byte) error {
	if err := checkPassword(pw); err != nil {
		return err
	}
	h, err := password.New(pw, s.cfg.Password)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	sealed, err := sealHash(s.sealer, userID, h.PHC())
	if err != nil {
		return err
	}
	now := s.now()
	reset := false
	err = s.update(ctx, func(tx *bolt.Tx) error {
		reset = false
		u, err := getUser(tx, userID)
		if err != nil {
			return err
		}
		action, detail := "user.password", ""
		if actorID == userID {
			oh, err := s.openHash(&u)
			if err != nil || !oh.Verify(old) {
				return ErrBadCredentials
			}
			if u.MustChange && oh.Verify(pw) {
				return fmt.Errorf("%w: the new password must differ from the one you were given", ErrInvalid)
			}
			u.MustChange = false
		} else {
			if err := s.requireTx(tx, actorID, perm.UsersManage, now); err != nil {
				return err
			}
			reason := "password reset by " + actorID
			if err := s.stripAccess(tx, actorID, &u, reason, now); err != nil {
				return err
			}
			u.MustChange, reset = true, true
			action, detail = "user.password.reset", "one-time password; role and footage grants revoked"
		}
		u.Hash, u.PasswordBy, u.PasswordAt = sealed, actorID, now.UnixNano()
		u.Failures, u.LockedUntil = 0, 0
		if err := putUser(tx, &u); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, audit.Event{Actor: actorID, Action: action, TargetKind: audit.KindUser, Target: userID, Result: audit.ResultOK, Detail: detail})
		return err
	})
	if err == nil && reset {
		s.security(SecPasswordReset, actorID, userID, true)
	} else if err != nil && actorID != userID {
		s.security(SecPasswordReset, actorID, userID, false)
	}
	return err
}

// SetTraining records userID's training date (R15); zero clears it. actor
// needs users.manage.
func (s *Store) SetTraining(ctx context.Context, actorID, userID string, date time.Time) error {
	now := s.now()
	if date.After(now) {
		return fmt.Errorf("%w: training date %s is in the future", ErrInvalid, date.Format(time.RFC3339))
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		if err := s.requireTx(tx, actorID, perm.UsersManage, now); err != nil {
			return err
		}
		u, err := getUser(tx, userID)
		if err != nil {
			return err
		}
		u.Trained = 0
		if !date.IsZero() {
			u.Trained = date.UnixNano()
		}
		if err := putUser(tx, &u); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, audit.Event{Actor: actorID, Action: "user.training", TargetKind: audit.KindUser, Target: userID,
			Result: audit.ResultOK, Detail: "training date " + date.UTC().Format(time.DateOnly)})
		return err
	})
}

// SetDisabled disables (with a reason) or re-enables userID. actor needs
// users.manage and cannot disable themself.
func (s *Store) SetDisabled(ctx context.Context, actorID, userID string, disabled bool, reason string) (err error) {
	if disabled {
		if err := grants.CheckText("reason", reason, 500); err != nil {
			return err
		}
	}
	now := s.now()
	if disabled {
		defer func() { s.announceDisable(ctx, actorID, userID, err == nil) }()
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		if err := s.requireTx(tx, actorID, perm.UsersManage, now); err != nil {
			return err
		}
		if actorID == userID {
			return fmt.Errorf("%w: cannot disable or enable oneself", ErrForbidden)
		}
		return s.setDisabledTx(tx, actorID, userID, disabled, reason, now)
	})
}

// announceDisable reports disabling an account that could approve or see
// video (SecApproverDisabled), refused or not.
func (s *Store) announceDisable(ctx context.Context, actorID, userID string, ok bool) {
	var role string
	_ = s.view(ctx, func(tx *bolt.Tx) error {
		u, err := getUser(tx, userID)
		role = u.Role
		return err
	})
	switch perm.Role(role) {
	case perm.Approver, perm.Operator, perm.Installer, perm.Admin:
		s.security(SecApproverDisabled, actorID, userID, ok)
	}
}

func (s *Store) setDisabledTx(tx *bolt.Tx, actorID, userID string, disabled bool, reason string, now time.Time) error {
	u, err := getUser(tx, userID)
	if err != nil {
		return err
	}
	u.Disabled = disabled
	u.DisabledAt, u.DisabledReason = 0, ""
	action := "user.enable"
	if disabled {
		u.DisabledAt, u.DisabledReason, action = now.UnixNano(), reason, "user.disable"
	}
	if err := putUser(tx, &u); err != nil {
		return err
	}
	_, err = s.audit.AppendTx(tx, audit.Event{Actor: actorID, Action: action, TargetKind: audit.KindUser, Target: userID, Result: audit.ResultOK, Detail: reason})
	return err
}

// Principal returns userID's current principal.
func (s *Store) Principal(ctx context.Context, userID string) (Principal, error) {
	var p Principal
	err := s.view(ctx, func(tx *bolt.Tx) error {
		u, err := getUser(tx, userID)
		p = principalOf(&u, s.now())
		return err
	})
	return p, err
}

// Users lists all accounts (the rows carry sealed hashes; callers must
// not render them).
func (s *Store) Users(ctx context.Context) ([]users.User, error) {
	var out []users.User
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			u, err := users.Decode(v)
			if err != nil {
				return fmt.Errorf("%w: user %s: %w", ErrCorrupt, k, err)
			}
			out = append(out, u)
			return nil
		})
	})
	return out, err
}

// Check returns nil if userID may use permission p now, on camera (""
// when the permission is not about one camera), else an error saying why.
// It re-reads the user: account enabled, current (unexpired) role, the
// matrix cell Allow (Grant cells need UseGrant), camera scope, and for
// operators a training date before any video (R15).
func (s *Store) Check(ctx context.Context, userID string, p perm.Permission, camera string) error {
	info, ok := s.m.Info(p)
	if !ok {
		return fmt.Errorf("%w: %w", ErrInvalid, perm.ErrUnknownPermission)
	}
	now := s.now()
	return s.view(ctx, func(tx *bolt.Tx) error {
		u, a, err := s.actorAny(tx, userID, now)
		if err != nil {
			return err
		}
		if p == perm.OwnAccountWrite {
			return nil // every enabled account may change its own password, role or not
		}
		if u.MustChange {
			return ErrMustChange
		}
		return s.checkUser(&u, a.Role, info, camera)
	})
}

func (s *Store) checkUser(u *users.User, role perm.Role, info perm.PermInfo, camera string) error {
	switch c := s.m.Cell(role, info.Perm); {
	case role == "":
		return fmt.Errorf("%w: %s holds no role", ErrForbidden, u.ID)
	case c == perm.Grant:
		return fmt.Errorf("%w: %s needs an approved grant", ErrForbidden, info.Perm)
	case c != perm.Allow:
		return fmt.Errorf("%w: role %q lacks %s", ErrForbidden, role, info.Perm)
	}
	return s.conditions(u, role, info, camera)
}

// conditions are the per-user limits on top of the matrix.
func (s *Store) conditions(u *users.User, role perm.Role, info perm.PermInfo, camera string) error {
	// R15: operators see no video without a training date; nobody plays
	// back or exports recorded footage without one (approvers included).
	// Installers aim cameras with live view and need none.
	if info.Video && u.Trained == 0 && (role == perm.Operator || s.m.MayHoldGrant(role, info.Perm)) {
		return fmt.Errorf("%w: %s %s has no training date (R15)", ErrForbidden, role, u.ID)
	}
	if info.CameraScoped && camera != "" && len(u.Cameras) > 0 && !slices.Contains(u.Cameras, camera) {
		return fmt.Errorf("%w: camera %q is outside %s's scope", ErrForbidden, camera, u.ID)
	}
	return nil
}

// Allowed reports whether userID may use p on camera now (see Check).
func (s *Store) Allowed(ctx context.Context, userID string, p perm.Permission, camera string) bool {
	return s.Check(ctx, userID, p, camera) == nil
}
