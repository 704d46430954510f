// Package users owns the user account record (msgp, records.go): login
// name rules, opaque ids, argon2id hash (PHC string, policy/password;
// stored sealed under the device vault by the policy store, issue 13),
// disabled and locked states, last login and last use, training date (R15)
// and the role currently assigned through the four-eyes flow (R13). It does
// no I/O; the policy store keeps users in bbolt.
//
// A User never prints its hash: String and LogValue leave it out.
package users
