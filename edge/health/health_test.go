package health

import (
	"testing"
	"time"
)

func TestTrackerSnapshot(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := now
	tr := NewTracker("gw-1", "v1", func() time.Time { return clock })
	tr.UpdateCamera("b", func(c *Camera) { c.State = StateRecording; c.FPS = 15 })
	tr.SetCamera(Camera{ID: "a", State: StateRefused, Reason: "zone"})
	tr.Warn("z", "second")
	tr.Warn("a", "first")
	tr.SetStorage(Storage{RingBytes: 100, Cipher: "aes-256-gcm"})
	clock = now.Add(90 * time.Second)
	s := tr.Snapshot()
	if s.Device != "gw-1" || s.Firmware != "v1" || s.Uptime != "1m30s" {
		t.Fatalf("snapshot %+v", s)
	}
	if len(s.Cameras) != 2 || s.Cameras[0].ID != "a" || s.Cameras[1].FPS != 15 {
		t.Fatalf("cameras %+v", s.Cameras)
	}
	if len(s.Warnings) != 2 || s.Warnings[0] != "first" {
		t.Fatalf("warnings %v", s.Warnings)
	}
	tr.Clear("a")
	if w := tr.Snapshot().Warnings; len(w) != 1 || w[0] != "second" {
		t.Fatalf("after clear: %v", w)
	}
	// The snapshot is a copy.
	s.Cameras[0].State = StateLost
	if tr.Snapshot().Cameras[0].State != StateRefused {
		t.Fatal("snapshot shares state with the tracker")
	}
}

// R23, R24: one alert list (code, severity, text, since) drives the beacon,
// the page and the LED; Warn/Clear map onto it.
func TestAlerts(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock := now
	tr := NewTracker("gw-1", "v1", func() time.Time { return clock })
	if w := tr.Snapshot().Worst(); w != 0 {
		t.Fatalf("worst with no alerts = %v", w)
	}
	tr.Raise(CameraCode("camera.lost", "cam1"), SevCritical, "camera cam1 lost")
	clock = now.Add(time.Minute)
	tr.Warn("horizon", "horizon below floor")
	tr.Raise(CameraCode("camera.lost", "cam1"), SevCritical, "camera cam1 still lost")
	s := tr.Snapshot()
	if len(s.Alerts) != 2 || s.Alerts[0].Code != "camera.lost:cam1" || s.Alerts[1].Code != "horizon" {
		t.Fatalf("alerts %+v", s.Alerts)
	}
	if !s.Alerts[0].Since.Equal(now) || s.Alerts[0].Text != "camera cam1 still lost" {
		t.Fatalf("re-raise must keep Since and replace text: %+v", s.Alerts[0])
	}
	if s.Alerts[1].Severity != SevWarning || !s.Alerts[1].Since.Equal(now.Add(time.Minute)) {
		t.Fatalf("Warn maps to SevWarning: %+v", s.Alerts[1])
	}
	if len(s.Warnings) != 2 || s.Warnings[0] != "camera cam1 still lost" || s.Warnings[1] != "horizon below floor" {
		t.Fatalf("warnings %v", s.Warnings)
	}
	if s.Worst() != SevCritical {
		t.Fatalf("worst %v", s.Worst())
	}
	if b, c := SplitCode(s.Alerts[0].Code); b != "camera.lost" || c != "cam1" {
		t.Fatalf("split %q %q", b, c)
	}
	tr.Resolve("camera.lost:cam1")
	tr.Clear("horizon")
	if s := tr.Snapshot(); len(s.Alerts) != 0 || len(s.Warnings) != 0 {
		t.Fatalf("after resolve: %+v", s)
	}
}

// Issue 13, R32: the root key provider is part of the one health view; a
// provider that does not protect against theft of the disk is a standing
// warning (page, LED, beacon), one that does is not.
func TestKeyProvider(t *testing.T) {
	tr := NewTracker("gw-1", "v1", nil)
	const warn = "keys on disk: not protected against theft of the disk"
	tr.SetKeyProvider(KeyProvider{Name: "file", Note: "file (" + warn + ")", Warning: warn})
	s := tr.Snapshot()
	if s.KeyProvider != "file" || s.KeyProviderWarning != warn || s.KeyProviderNote == "" {
		t.Fatalf("file provider: %+v", s)
	}
	if len(s.Alerts) != 1 || s.Alerts[0].Code != AlertKeysOnDisk || s.Alerts[0].Severity != SevWarning || s.Alerts[0].Text != warn {
		t.Fatalf("file provider alerts: %+v", s.Alerts)
	}
	if s.Worst() != SevWarning {
		t.Fatalf("worst %v", s.Worst())
	}
	tr.SetKeyProvider(KeyProvider{Name: "tpm2", Note: "tpm2 (sealed in this board's TPM 2.0)"})
	s = tr.Snapshot()
	if s.KeyProvider != "tpm2" || s.KeyProviderWarning != "" || len(s.Alerts) != 0 || len(s.Warnings) != 0 {
		t.Fatalf("tpm2 provider: %+v", s)
	}
}

// Fresh (the watchdog's condition, out of cmd/edgerec with issue 15): every
// recording camera delivered a frame within the age; other states do not
// count.
func TestTrackerFresh(t *testing.T) {
	tr := NewTracker("dev", "v", nil)
	tr.UpdateCamera("a", func(c *Camera) { c.State = StateRecording; c.LastFrame = time.Now() })
	tr.UpdateCamera("b", func(c *Camera) { c.State = StateLost; c.LastFrame = time.Now().Add(-time.Hour) })
	if !tr.Fresh(30 * time.Second) {
		t.Fatal("a recording camera with a frame now is not fresh")
	}
	tr.UpdateCamera("a", func(c *Camera) { c.LastFrame = time.Now().Add(-time.Minute) })
	if tr.Fresh(30 * time.Second) {
		t.Fatal("a recording camera silent for a minute is fresh")
	}
}
