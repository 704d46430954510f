package web

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/source/rtsprig"
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

// TestLiveRefusesH265 (issue 18): live view is H.264 (WebRTC track, and
// the gateway decodes only H.264 to mask); an H.265 camera without a sub
// stream is refused with one JSON 422 that says what to do, instead of a
// black player; the refusal is audited.
func TestLiveRefusesH265(t *testing.T) {
	rig, err := rtsprig.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rig.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := rig.Publish(ctx, "hevc", rtsprig.FFmpegArgsH265("320x240", 10))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	e := newEnv(t, envOptions{noCams: true})
	if err := e.cams.Add(ctx, config.Camera{ID: "cam6", Name: "Gate", Source: config.URL(rig.URL("hevc")),
		Zone: rules.ZoneEntrance, Signage: config.Signage{AttestedBy: "setup", Date: config.Date{Time: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); e.srv.cameraCodec("cam6") != "h265"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("health never showed the camera's codec: %+v", e.health.Snapshot().Cameras)
		}
	}
	tm := e.makeTeam()
	resp := e.do("POST", "/api/v1/cameras/cam6/whep", "application/sdp", "v=0\r\n", tm.cookies["installer"])
	body := readAll(t, resp)
	if resp.StatusCode != 422 || !strings.Contains(string(body), "H.265") || !strings.Contains(string(body), "sub stream") {
		t.Fatalf("live view of an H.265 camera: %d %s", resp.StatusCode, body)
	}
	found := false
	for _, r := range e.audit() {
		if r.Target == "cam6" && strings.Contains(r.Detail, "H.265") && r.Result != "ok" {
			found = true
		}
	}
	if !found {
		t.Errorf("refusal not audited: %+v", e.audit())
	}
}
