package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/policy/rules"
	"github.com/edgerec/edgerec/storage"
)

// TestPlaybackRefusesH265 (issue 18): playback burns the viewer in by
// decoding (R18) and the gateway decodes H.264 only, so H.265 footage is
// refused with one JSON 422 that says why and points to export; nothing
// is streamed.
func TestPlaybackRefusesH265(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	// A camera that never connects: no recorder holds its segment open.
	if err := e.cams.Add(context.Background(), config.Camera{ID: "cam5", Name: "Yard", Source: "rtsp://127.0.0.1:1/none",
		Zone: rules.ZoneEntrance, Signage: config.Signage{AttestedBy: "setup", Date: config.Date{Time: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-time.Minute)
	w, err := e.store.BeginSegment(context.Background(), storage.SegmentMeta{Camera: "cam5", Start: start, Codec: "h265"})
	if err != nil {
		t.Fatal(err)
	}
	// An H.265 IDR unit's bytes (VPS header first); storage does not look.
	au := []byte{0, 0, 0, 1, 0x40, 0x01, 0x0c, 0x01, 0, 0, 0, 1, 0x26, 0x01, 0xaf}
	for i := range 30 {
		if err := w.WriteFrame(storage.Frame{Time: start.Add(time.Duration(i) * 100 * time.Millisecond), Key: i == 0, Data: au}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tm := e.makeTeam()
	op, ap := tm.cookies["operator"], tm.cookies["approver"]
	var g grantView
	e.must(201, "POST", "/api/v1/grants", footageRequest{Action: "playback", Purpose: "incident 45", Cameras: []string{"cam5"},
		From: start.Add(-time.Minute), To: start.Add(time.Minute), ValidityHours: 1}, op, &g)
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, ap, nil)
	resp := e.do("GET", "/api/v1/recordings/cam5/play?grant="+g.ID+"&from="+start.Format(time.RFC3339Nano)+"&to="+start.Add(3*time.Second).Format(time.RFC3339Nano), "", "", op)
	body := readAll(t, resp)
	if resp.StatusCode != 422 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("playback of H.265: %d %s %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	text := string(body)
	for _, want := range []string{"H.265", "R18", "export"} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q: %s", want, text)
		}
	}
}
