package uplink

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// D6: edge/uplink and its subpackages import no video package and not the
// pipeline (transitively). cmd/edgerec's layering test checks the same rule
// for the whole module; this one also forbids edge/pipeline.
func TestLayeringNoVideo(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const m = "github.com/edgerec/edgerec/"
	forbidden := []string{m + "edge/media", m + "edge/codec", m + "edge/source", m + "storage/ring", m + "storage/seal", m + "edge/pipeline"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("edge/uplink depends on %s (D6: metadata only)", dep)
			}
		}
	}
}

// R21: the device side subscribes to nothing. Only the ops view (fleet), the
// ops service (fleetd) and the test rig subscribe.
func TestDeviceNeverSubscribes(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (path == "fleet" || path == "fleetd" || path == "uplinktest" || path == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, bad := range []string{".Subscribe(", "paho.Subscribe", "OnPublishReceived:"} {
			if strings.Contains(string(src), bad) {
				t.Errorf("%s contains %q: the device must not subscribe (R21)", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
