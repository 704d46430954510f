package main

import (
	"testing"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/hal/gpio"
)

// TestPanelLevel: the status LED follows health (R24).
func TestPanelLevel(t *testing.T) {
	tr := health.NewTracker("d", "v", nil)
	tr.SetCamera(health.Camera{ID: "a", State: health.StateRecording})
	tr.SetCamera(health.Camera{ID: "b", State: health.StateRefused})
	if l := panelLevel(tr.Snapshot()); l != gpio.LevelOK {
		t.Fatalf("ok: %v", l)
	}
	tr.SetCamera(health.Camera{ID: "a", State: health.StateLost})
	if l := panelLevel(tr.Snapshot()); l != gpio.LevelDegraded {
		t.Fatalf("camera lost: %v", l)
	}
	tr.SetCamera(health.Camera{ID: "a", State: health.StateRecording})
	tr.Warn("horizon", "below floor")
	if l := panelLevel(tr.Snapshot()); l != gpio.LevelDegraded {
		t.Fatalf("warning: %v", l)
	}
	tr.Raise("tamper", health.SevCritical, "opened")
	if l := panelLevel(tr.Snapshot()); l != gpio.LevelFault {
		t.Fatalf("critical: %v", l)
	}
	tr.Raise(alertWiping, health.SevCritical, "wiping")
	if l := panelLevel(tr.Snapshot()); l != gpio.LevelWiping {
		t.Fatalf("wiping: %v", l)
	}
}
