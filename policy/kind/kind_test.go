package kind

import (
	"errors"
	"fmt"
	"testing"
)

func TestOf(t *testing.T) {
	nf := New(NotFound, "policy: not found")
	wrapped := fmt.Errorf("user 7: %w", nf)
	if Of(wrapped) != NotFound || !errors.Is(wrapped, nf) {
		t.Fatalf("wrapped: %v %v", Of(wrapped), errors.Is(wrapped, nf))
	}
	if Of(errors.New("disk on fire")) != Internal || Of(nil) != Internal {
		t.Fatal("unclassified is not Internal")
	}
	// The first classified error in the chain wins.
	both := fmt.Errorf("%w: %w", New(Conflict, "a"), New(Invalid, "b"))
	if Of(both) != Conflict {
		t.Fatalf("joined: %v", Of(both))
	}
	if New(Invalid, "x") == New(Invalid, "x") {
		t.Fatal("two sentinels with the same text must differ (errors.Is by identity)")
	}
	for k := Internal; k <= Unavailable+1; k++ {
		if k.String() == "" {
			t.Fatal("empty name")
		}
	}
}
