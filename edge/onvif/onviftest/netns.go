package onviftest

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

const netnsEnv = "EDGEREC_ONVIF_NETNS"

// InNetns runs the calling test in a new network namespace, where only a
// loopback interface exists, so that multicast discovery never reaches a
// real network. Call it first in the test:
//
//	if !onviftest.InNetns(t) { return }
//
// Outside the namespace it re-runs the test binary with just this test
// under `unshare --net` (root, util-linux), reports the child's output and
// returns false. Inside it brings lo up with multicast and a route for
// 224.0.0.0/4 (iproute2) and returns true.
func InNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		for _, args := range [][]string{
			{"link", "set", "lo", "up"},
			{"link", "set", "lo", "multicast", "on"},
			{"route", "add", "224.0.0.0/4", "dev", "lo"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("netns: ip %v: %v: %s (scripts/deps.sh installs iproute2)", args, err, out)
			}
		}
		return true
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("netns: unshare not found (scripts/deps.sh installs util-linux): %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	args := []string{"--net", "--", os.Args[0], "-test.run", "^" + regexp.QuoteMeta(t.Name()) + "$", "-test.v", "-test.count=1"}
	cmd := exec.CommandContext(ctx, unshare, args...)
	cmd.Env = append(os.Environ(), netnsEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("in a new network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("netns: the test failed in its network namespace (run as root): %v", err)
	}
	if !regexp.MustCompile(`(?m)^--- PASS: ` + regexp.QuoteMeta(t.Name())).Match(out) {
		t.Fatalf("netns: the test did not pass in its network namespace")
	}
	return false
}
