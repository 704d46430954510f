package web

import (
	"context"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/policy/rules"
)

// Issue 18: the timeline of a camera with a recording schedule shows the
// time outside its windows as "scheduled off" (in the site's zone), not as
// a gap; a camera without a schedule has none.
func TestTimelineScheduledOff(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{loc: berlin})
	tm := e.makeTeam()
	if err := e.cams.Add(context.Background(), config.Camera{ID: "shop", Source: "test://pattern?width=320&height=180&fps=5", Zone: rules.ZoneEntrance,
		Signage:  config.Signage{AttestedBy: "setup", Date: config.Date{Time: time.Now()}},
		Schedule: []config.ScheduleWindow{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "08:00", To: "18:00"}}}); err != nil {
		t.Fatal(err)
	}
	type span struct{ From, To time.Time }
	var tl struct {
		Spans        []span `json:"spans"`
		ScheduledOff []span `json:"scheduled_off"`
	}
	// Monday 2026-12-07 06:00–20:00 UTC = 07:00–21:00 Berlin: off 07:00–08:00
	// and 18:00–21:00 local, i.e. 06:00–07:00 and 17:00–20:00 UTC.
	e.must(200, "GET", "/api/v1/recordings/shop/timeline?from=2026-12-07T06:00:00Z&to=2026-12-07T20:00:00Z", nil, tm.cookies["operator"], &tl)
	u := func(h int) time.Time { return time.Date(2026, 12, 7, h, 0, 0, 0, time.UTC) }
	want := []span{{u(6), u(7)}, {u(17), u(20)}}
	if len(tl.ScheduledOff) != 2 || !tl.ScheduledOff[0].From.Equal(want[0].From) || !tl.ScheduledOff[0].To.Equal(want[0].To) ||
		!tl.ScheduledOff[1].From.Equal(want[1].From) || !tl.ScheduledOff[1].To.Equal(want[1].To) {
		t.Fatalf("scheduled_off %v, want %v", tl.ScheduledOff, want)
	}
	tl.ScheduledOff = nil
	e.must(200, "GET", "/api/v1/recordings/cam1/timeline?from=2026-12-07T06:00:00Z&to=2026-12-07T20:00:00Z", nil, tm.cookies["operator"], &tl)
	if tl.ScheduledOff == nil || len(tl.ScheduledOff) != 0 {
		t.Fatalf("camera without a schedule: scheduled_off %v, want []", tl.ScheduledOff)
	}
}
