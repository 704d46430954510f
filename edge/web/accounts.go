package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
)

// role is a user's role (R11). The skeleton knows only the installer; the
// users/roles work adds admin, operator, approver and auditor.
type role string

const roleInstaller role = "installer"

// permission is what a route requires. Routes name permissions, never roles,
// so a new role is a new row in the role table, not a change of handlers.
type permission string

const (
	// permPublic needs no session (login, the login page, static assets).
	permPublic permission = "public"
	// permSession needs a valid session and nothing else (logout).
	permSession permission = "session"
	// permHealthRead reads device and storage health.
	permHealthRead permission = "health.read"
	// permCamerasRead sees camera ids, names and figures (R19).
	permCamerasRead permission = "cameras.read"
	// permCameraLive sees the masked live picture (R11: installer for aiming).
	permCameraLive permission = "cameras.live"
)

// principal is an authenticated user.
type principal struct {
	User string `json:"user"`
	Role role   `json:"role"`
}

// errBadCredentials is returned for an unknown user or a wrong password alike.
var errBadCredentials = errors.New("web: bad credentials")

// accounts is the skeleton's view of users and roles: who may log in, and what
// a role may do. The users/roles work swaps setupAccounts for the policy store.
type accounts interface {
	// Authenticate checks user and password. It returns errBadCredentials,
	// after the same amount of work, for an unknown user and a wrong password.
	Authenticate(ctx context.Context, user string, password []byte) (principal, error)
	// Allowed reports whether p holds permission perm.
	Allowed(p principal, perm permission) bool
}

// setupUser is the account that the one-time setup credential logs in.
const setupUser = "installer"

// rolePermissions is the role table of the skeleton (data, not code).
func rolePermissions() map[role][]permission {
	return map[role][]permission{
		// R11: cameras, masks, network; live view only for aiming; no playback.
		roleInstaller: {permHealthRead, permCamerasRead, permCameraLive},
	}
}

// setupAccounts holds the single installer account of the walking skeleton.
// Only the argon2id hash of its password is kept.
type setupAccounts struct {
	hash  passwordHash
	roles map[role]map[permission]bool
}

func newSetupAccounts(password []byte, params argonParams) (*setupAccounts, error) {
	h, err := hashPassword(password, params)
	if err != nil {
		return nil, fmt.Errorf("web: hash setup credential: %w", err)
	}
	roles := make(map[role]map[permission]bool)
	for r, perms := range rolePermissions() {
		roles[r] = make(map[permission]bool, len(perms))
		for _, p := range perms {
			roles[r][p] = true
		}
	}
	return &setupAccounts{hash: h, roles: roles}, nil
}

func (a *setupAccounts) Authenticate(ctx context.Context, user string, password []byte) (principal, error) {
	if err := ctx.Err(); err != nil {
		return principal{}, fmt.Errorf("web: authenticate: %w", err)
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(setupUser)) == 1
	// Always run the KDF so an unknown user costs as much as a wrong password.
	pwOK := a.hash.verify(password)
	if !userOK || !pwOK {
		return principal{}, errBadCredentials
	}
	return principal{User: setupUser, Role: roleInstaller}, nil
}

func (a *setupAccounts) Allowed(p principal, perm permission) bool {
	switch perm {
	case permPublic:
		return true
	case permSession:
		return p.User != ""
	}
	return a.roles[p.Role][perm]
}
