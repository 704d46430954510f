package tpm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgerec/edgerec/hal/tpm/swtpmtest"
)

// swtpm is one software TPM (swtpmtest: a fresh chip per newSWTPM).
type swtpm struct{ *swtpmtest.SWTPM }

func newSWTPM(t testing.TB) *swtpm { return &swtpm{swtpmtest.New(t)} }

// restart is a power cycle: same chip (state), PCRs reset.
func (s *swtpm) restart() { s.Restart() }

func (s *swtpm) opener() Opener { return Socket("unix", s.Sock(), true) }

func (s *swtpm) tpm() *TPM { return New(s.opener(), nil) }

// testCtx bounds every test's TPM work.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
	t.Logf("%s: %v", what, err)
}
