package uplink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
