package uplink

import "regexp"

// Which ids leave the device in clear (R19). Only ids the device itself
// generates, of a known shape, are sent as they are: user ids ("u-" and 16
// hex digits), grant ids ("g-" and 20), export ids ("x-" and 16), and the
// fixed actor names of the device. Every other string in an audit record's
// actor, grant or targets — a camera id recorded under a non-camera kind, a
// garbage path id, anything a caller typed — is sent as its keyed hash,
// "h:" followed by the same 16 hex digits OpaqueID gives, so a camera id
// that slipped into a target still matches the camera's opaque id in
// beacons, and nothing readable leaves. Camera-kind targets are always
// OpaqueID (the record's "cams" list).
var clearIDRE = regexp.MustCompile(`^(u-[0-9a-f]{16}|g-[0-9a-f]{20}|x-[0-9a-f]{16})$`)

// fixedActors are the actor names the device writes itself.
var fixedActors = map[string]bool{"anonymous": true, "system": true, "device": true, "metrics-token": true}

// HashedPrefix starts a target, actor or grant that was sent as a keyed hash.
const HashedPrefix = "h:"

// ClearID reports whether an audit id may go upstream in clear.
func ClearID(s string) bool { return clearIDRE.MatchString(s) }

// wireID is what an audit actor, grant or target becomes on the wire.
func (u *Uplink) wireID(s string, actor bool) string {
	if s == "" || ClearID(s) || actor && fixedActors[s] {
		return s
	}
	return HashedPrefix + OpaqueID(u.cfg.IDKey, s)
}
