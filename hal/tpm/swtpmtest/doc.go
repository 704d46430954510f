// Package swtpmtest starts a software TPM 2.0 (swtpm, Debian package
// swtpm) on a unix socket in a temporary directory, for tests of the TPM
// root key provider (issue 13) in any package. Each New is another chip
// (fresh seeds); Restart is a power cycle of the same chip. Tests skip when
// swtpm is missing unless EDGEREC_REQUIRE_SWTPM=1 (set by `make test`).
package swtpmtest
