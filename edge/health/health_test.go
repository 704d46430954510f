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
