// Package password owns argon2id password hashing for policy/users: hashing
// with recorded parameters, constant-time verification and the PHC string
// form, identical to the one edge/web writes:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt, base64 raw std>$<key, base64 raw std>
//
// # Parameters
//
// Default: m = 19 MiB (19456 KiB), t = 2, p = 1, 16-byte salt, 32-byte key.
// This is the OWASP Password Storage Cheat Sheet minimum for argon2id and
// the same as edge/web's, so hashes move between the two unchanged. One
// check costs about 50 ms on a modern x86 core and roughly 0.2–0.35 s on a
// Raspberry Pi 4 (Cortex-A72, 1.5–1.8 GHz, pure Go argon2, memory-bound), within the
// 0.5 s login budget. The parameters are stored with each hash, so raising
// them later (NeedsRehash) never invalidates existing hashes. Parse accepts
// only bounded parameters (m ≤ 1 GiB, t ≤ 64, p ≤ 16, salt 8–64 bytes, key
// 16–64 bytes) so a tampered hash cannot make a login allocate without bound.
//
// Hash values and passwords are never logged: Hash implements
// slog.LogValuer and fmt.Stringer for logs as "[redacted]"; only PHC
// returns the stored form.
package password
