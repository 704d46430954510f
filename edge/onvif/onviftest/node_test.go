package onviftest_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/onvif/onviftest"
)

// nodeModules is where scripts/deps.sh installs the npm "onvif" 0.8.3
// client: $EDGEREC_NODE_CACHE, else $XDG_CACHE_HOME/edgerec/node, else
// ~/.cache/edgerec/node; then onvif-0.8.3/node_modules.
func nodeModules(t *testing.T) string {
	base := os.Getenv("EDGEREC_NODE_CACHE")
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		base = filepath.Join(c, "edgerec", "node")
	}
	dir := filepath.Join(base, "onvif-0.8.3", "node_modules")
	b, err := os.ReadFile(filepath.Join(dir, "onvif", "package.json"))
	if err != nil || !strings.Contains(string(b), `"version": "0.8.3"`) {
		t.Fatalf("the npm onvif 0.8.3 client is not in %s (scripts/deps.sh installs it): %v", dir, err)
	}
	return dir
}

type nodeResult struct {
	Version string `json:"version"`
	Found   []struct {
		URN    string   `json:"urn"`
		XAddrs []string `json:"xaddrs"`
	} `json:"found"`
	Device struct {
		Manufacturer, Model, FirmwareVersion, SerialNumber string
	} `json:"device"`
	Profiles []struct {
		Token, Name, Encoding string
		Width, Height         int
	} `json:"profiles"`
	DefaultProfile string            `json:"defaultProfile"`
	URIs           map[string]string `json:"uris"`
	Errors         []string          `json:"errors"`
}

func runNode(t *testing.T, mods, user, pass string) (nodeResult, error) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (scripts/deps.sh installs nodejs): %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/node/check.js")
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods, "ONVIF_USER="+user, "ONVIF_PASS="+pass)
	cmd.Stderr = os.Stderr
	out, runErr := cmd.Output()
	var r nodeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node output %q: %v (run error %v)", out, err, runErr)
	}
	return r, runErr
}

// TestNodeClient: the independent npm client discovers the test device by
// multicast (in a network namespace with only lo), connects with the
// digest, and reads device information, profiles and stream URIs. If it
// cannot, the test device is wrong.
func TestNodeClient(t *testing.T) {
	if !onviftest.InNetns(t) {
		return
	}
	mods := nodeModules(t)
	d, err := onviftest.Start(onviftest.Config{MulticastInterface: "lo", DiscoveryAddr: "-", ClockOffset: 7 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	r, err := runNode(t, mods, "admin", "secret-pass")
	if err != nil {
		t.Fatalf("node client failed: %v; %+v", err, r)
	}
	t.Logf("node onvif %s: %+v (%v)", r.Version, r, time.Since(start))
	if len(r.Found) != 1 || r.Found[0].URN != d.Endpoint() || r.Found[0].XAddrs[0] != d.XAddr() {
		t.Fatalf("found %+v", r.Found)
	}
	if r.Device.Manufacturer != "EdgerecTest" || r.Device.Model != "ET-2MP" || r.Device.FirmwareVersion != "V5.7.3 build 251101" || r.Device.SerialNumber != "ET2M-000123" {
		t.Fatalf("device %+v", r.Device)
	}
	if len(r.Profiles) != 2 || r.Profiles[0].Token != "Profile_1" || r.Profiles[0].Width != 1920 || r.Profiles[1].Encoding != "H264" || r.DefaultProfile != "Profile_1" {
		t.Fatalf("profiles %+v default %q", r.Profiles, r.DefaultProfile)
	}
	if r.URIs["Profile_1"] != "rtsp://127.0.0.1:8554/cam/main" || r.URIs["Profile_2"] != "rtsp://127.0.0.1:8554/cam/sub" {
		t.Fatalf("uris %+v", r.URIs)
	}
	if len(r.Errors) != 0 || d.AuthFailures() != 0 {
		t.Fatalf("errors %v, auth failures %d", r.Errors, d.AuthFailures())
	}

	// Wrong password: the independent client sees the NotAuthorized fault.
	r, err = runNode(t, mods, "admin", "wrong")
	if err == nil || !strings.Contains(strings.Join(r.Errors, " "), "Sender not Authorized") {
		t.Fatalf("wrong password accepted or unclear: %v %+v", err, r.Errors)
	}
	if d.Sets() != 0 {
		t.Fatal("the clock changed")
	}
}
