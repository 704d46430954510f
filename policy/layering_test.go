package policy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayeringPolicy: README design §3 — nothing under policy/ depends on edge,
// hal, storage, cmd or net/http.
func TestLayeringPolicy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/edgerec/edgerec/policy/...").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v: %s", err, out)
	}
	const mod = "github.com/edgerec/edgerec/"
	for _, p := range strings.Fields(string(out)) {
		for _, bad := range []string{mod + "edge", mod + "hal", mod + "storage", mod + "cmd"} {
			if p == bad || strings.HasPrefix(p, bad+"/") {
				t.Errorf("policy depends on %s", p)
			}
		}
		if p == "net/http" {
			t.Error("policy depends on net/http")
		}
	}
}
