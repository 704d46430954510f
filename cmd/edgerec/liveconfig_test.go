package main

import (
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
)

// R18, issue 12: lan.live_max_per_user and lan.live_max_duration reach the
// daemon (live.Config.MaxPerViewer, web.Config.LiveMaxDuration), with the
// defaults when the file leaves them out.
func TestLiveLimitsFromConfig(t *testing.T) {
	c := config.Demo(t.TempDir())
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := config.Parse(data, "edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dc, err := fromConfig(parsed, "/x/edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if dc.LiveMaxPerUser != 2 || dc.LiveMaxDuration != 30*time.Minute {
		t.Fatalf("defaults: per user %d, duration %s", dc.LiveMaxPerUser, dc.LiveMaxDuration)
	}
	parsed.LAN.LiveMaxPerUser, parsed.LAN.LiveMaxDuration = 3, config.Duration(45*time.Minute)
	if err := parsed.Validate(); err != nil {
		t.Fatal(err)
	}
	if dc, err = fromConfig(parsed, "/x/edgerec.yaml"); err != nil || dc.LiveMaxPerUser != 3 || dc.LiveMaxDuration != 45*time.Minute {
		t.Fatalf("set: %v per user %d, duration %s", err, dc.LiveMaxPerUser, dc.LiveMaxDuration)
	}
}
