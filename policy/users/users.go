package users

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/edgerec/edgerec/policy/kind"
)

// Errors.
var (
	ErrBadName = kind.New(kind.Invalid, "invalid username")
	ErrCorrupt = errors.New("corrupt user record")
)

// CheckName validates a login name: 1–64 bytes of lower-case ASCII letters,
// digits, '.', '_' or '-', starting with a letter or digit. Control
// characters, spaces and non-ASCII are refused (no look-alikes, nothing
// that could forge a log line).
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: username is empty", ErrBadName)
	}
	if len(name) > 64 {
		return fmt.Errorf("%w: username is longer than 64 bytes", ErrBadName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w: username contains a control character at byte %d", ErrBadName, i)
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("%w: username %q: only a-z, 0-9, '.', '_', '-' (not first)", ErrBadName, name)
		}
	}
	return nil
}

// NewID returns a fresh user id, "u-" and 16 hex digits.
func NewID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("user id: %w", err)
	}
	return "u-" + hex.EncodeToString(b[:]), nil
}

// Locked reports whether failed logins lock the account at now.
func (u *User) Locked(now time.Time) bool { return now.UnixNano() < u.LockedUntil }

// CurrentRole returns the role at now ("" when none, expired or disabled).
func (u *User) CurrentRole(now time.Time) string {
	if u.Disabled || u.Role == "" || now.UnixNano() >= u.RoleExpires {
		return ""
	}
	return u.Role
}

// LogValue keeps the hash out of logs.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("name", u.Name), slog.String("role", u.Role),
		slog.Bool("disabled", u.Disabled))
}

// String is for logs and never shows the hash.
func (u User) String() string { return fmt.Sprintf("user %s (%s)", u.ID, u.Name) }

// Decode decodes a stored user strictly.
func Decode(v []byte) (User, error) {
	var u User
	rest, err := u.UnmarshalMsg(v)
	if err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(rest) != 0 {
		return User{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	if !strings.HasPrefix(u.ID, "u-") {
		return User{}, fmt.Errorf("%w: id %q", ErrCorrupt, u.ID)
	}
	if err := CheckName(u.Name); err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return u, nil
}
