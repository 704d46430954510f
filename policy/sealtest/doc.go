// Package sealtest is a test helper: an in-memory AEAD sealer
// (XChaCha20-Poly1305 under a random key, the name as associated data) that
// stands in for the device vault in tests of policy and of packages that
// may not import storage (README design §3). Production code never uses it;
// cmd/edgerec passes the real vault (storage/keys.Vault).
package sealtest
