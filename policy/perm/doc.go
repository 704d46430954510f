// Package perm owns the role and permission table of R11: which role may do
// what, as data in one place (Matrix). Every other layer (the LAN page's
// route table, the policy store's Allowed, the rendered PERMISSIONS.md) reads
// this table; nothing else decides what a role may do.
//
// A cell is one of three values:
//
//   - Allow: the role alone is enough (still subject to per-user conditions
//     the store applies: account enabled, camera scope, and for operators a
//     recorded training date before any video, R15).
//   - Grant: the role may hold an approved grant for this action, and only
//     the grant makes it possible; the role alone never does (R11, R12).
//     Playback, export and legal hold are Grant-only for every role: nobody,
//     admin included, touches recorded footage without an approved grant.
//   - Deny: never.
//
// Roles and permissions are closed sets: ParseRole and ParsePermission
// reject anything not in the table with an error that lists the known values.
//
// Markdown renders the table; policy/PERMISSIONS.md is generated from it and
// a test fails when the file is out of date (go generate ./policy/perm or
// UPDATE_PERMISSIONS=1 go test ./policy/perm).
package perm
