package policy

import (
	"testing"

	"github.com/edgerec/edgerec/policy/password"
)

// BenchmarkLogin: one successful Authenticate with the default argon2id
// parameters (m=19 MiB, t=2, p=1) including the bbolt write and audit
// record. Budget: < 0.5 s on a Pi 4-class core.
func BenchmarkLogin(b *testing.B) {
	e := newEnvB(b, password.Default())
	for b.Loop() {
		if _, err := e.s.Authenticate(ctx, "admin", []byte("admin-password-1")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoginUnknownUser: the same with a user that does not exist.
func BenchmarkLoginUnknownUser(b *testing.B) {
	e := newEnvB(b, password.Default())
	for b.Loop() {
		e.s.Authenticate(ctx, "nobody", []byte("admin-password-1"))
	}
}
