package storage

import (
	"os/exec"
	"strings"
	"testing"
)

// README design §3: storage imports no edge/ or policy/ package.
func TestLayeringNoEdgeOrPolicy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/edgerec/edgerec/storage/...").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v: %s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/edgerec/edgerec/edge") || strings.HasPrefix(p, "github.com/edgerec/edgerec/policy") ||
			strings.HasPrefix(p, "github.com/edgerec/edgerec/hal") || strings.HasPrefix(p, "github.com/edgerec/edgerec/cmd") {
			t.Errorf("storage depends on %s", p)
		}
	}
}
