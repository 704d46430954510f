package users

//go:generate go tool msgp

// Bound decoded arrays and maps (hostile or damaged rows).
//msgp:limit arrays:1024 maps:64

// User is one account. Times are Unix nanoseconds (UTC), 0 = never/unset.
// The role is not chosen here: it is the current role assignment (R13), a
// grant issued through the four-eyes flow, copied into Role/RoleGrant/
// RoleExpires/Cameras when issued and cleared when revoked or superseded.
type User struct {
	ID      string `msg:"id"`   // opaque, "u-" + hex; what audit records name
	Name    string `msg:"name"` // login name
	Hash    string `msg:"hash"` // argon2id PHC string sealed by the policy store under the device vault ("user/<id>/hash"); never logged
	Created int64  `msg:"created"`

	Disabled       bool   `msg:"disabled"`
	DisabledAt     int64  `msg:"disabledat"`
	DisabledReason string `msg:"disabledwhy"`
	Failures       uint32 `msg:"failures"`    // consecutive failed logins
	LockedUntil    int64  `msg:"lockeduntil"` // after too many failures (R22)
	LastLogin      int64  `msg:"lastlogin"`
	LastUse        int64  `msg:"lastuse"` // last grant use or video access
	Trained        int64  `msg:"trained"` // training date (R15); 0 = none

	// MustChange: the password was set by someone else (account creation
	// or a reset by an admin); the account may do nothing but change it
	// (policy doc: the single-person invariant).
	MustChange bool   `msg:"mustchange"`
	PasswordBy string `msg:"pwby"` // who set the current password (user id)
	PasswordAt int64  `msg:"pwat"` // when

	Role        string   `msg:"role"`
	RoleGrant   string   `msg:"rolegrant"`
	RoleExpires int64    `msg:"roleexp"`
	Cameras     []string `msg:"cams"` // camera scope; empty = all
}
