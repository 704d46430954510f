package web

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/export/fmp4"
	"github.com/edgerec/edgerec/policy/rules"
	"github.com/edgerec/edgerec/storage"
)

// TestR11R17PlaybackAndExportSameTiming (issue 15): playback (transcoded,
// watermarked, R11/R18) and export (copied, R17) of the same range go
// through the one muxer, edge/export/fmp4, and give the same samples at
// the same times with the same durations.
func TestR11R17PlaybackAndExportSameTiming(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	if err := e.cams.Add(context.Background(), config.Camera{ID: "cam2", Name: "Back door", Source: "test://pattern?width=320&height=240&fps=10",
		Zone: rules.ZoneEntrance, Signage: config.Signage{AttestedBy: "setup", Date: config.Date{Time: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	tm := e.makeTeam()
	op, ap := tm.cookies["operator"], tm.cookies["approver"]
	start := time.Now().UTC()
	waitFootage(t, e, "cam2", 6*time.Second)
	end := time.Now().UTC()
	// The range starts at a stored keyframe, so the export (which starts
	// at the keyframe at or before from) and the playback (which shows
	// [from, to)) hold the same pictures.
	var keys []time.Time
	if err := e.store.ReadFrames(context.Background(), "cam2", start, end, func(f storage.Frame) error {
		if f.Key {
			keys = append(keys, f.Time)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) < 3 {
		t.Fatalf("%d keyframes in %s of footage", len(keys), end.Sub(start))
	}
	from := keys[1]
	to := from.Add(3 * time.Second)
	if to.After(end) {
		t.Fatalf("not enough footage after the keyframe at %s", from)
	}

	var g grantView
	e.must(201, "POST", "/api/v1/grants", footageRequest{Action: "playback", Purpose: "incident 45", Cameras: []string{"cam2"},
		From: start.Add(-time.Minute), To: end.Add(time.Minute), ValidityHours: 1}, op, &g)
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, ap, nil)
	resp := e.do("GET", "/api/v1/recordings/cam2/play?grant="+g.ID+"&from="+from.Format(time.RFC3339Nano)+"&to="+to.Format(time.RFC3339Nano), "", "", op)
	body := readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("playback: %d %.200s", resp.StatusCode, body)
	}
	played, err := fmp4.Samples(body)
	if err != nil {
		t.Fatal(err)
	}

	var file bytes.Buffer
	allow := export.AuthorizerFunc(func(context.Context, string, string, time.Time, time.Time) error { return nil })
	m, err := export.Export(context.Background(), e.store, export.Request{Device: "gw-test", Camera: "cam2", From: from, To: to,
		GrantID: "g-test", Authorizer: allow}, &file, nil)
	if err != nil {
		t.Fatal(err)
	}
	exported, err := fmp4.Samples(file.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !m.Start.Equal(from) {
		t.Fatalf("export starts at %s, not at the keyframe %s", m.Start, from)
	}
	if len(played) != len(exported) || len(played) < 20 {
		t.Fatalf("playback has %d samples, export %d", len(played), len(exported))
	}
	for i := range played {
		p, x := played[i], exported[i]
		if p.DTS != x.DTS || p.Duration != x.Duration {
			t.Fatalf("sample %d: playback at %d for %d ticks, export at %d for %d", i, p.DTS, p.Duration, x.DTS, x.Duration)
		}
	}
	last := played[len(played)-1]
	t.Logf("%d samples, %d..%d ticks, identical in playback and export", len(played), played[0].DTS, last.DTS+int64(last.Duration))
}
