package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
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

// Issue 18: an installer records a maintenance visit on the page; it is
// listed, named cameras must exist, an operator may not, bad input is a 400
// with nothing stored, and upstream is told the counts only.
func TestMaintenanceVisitRoutes(t *testing.T) {
	al := &burstRecorder{}
	e := newEnv(t, envOptions{alerts: al})
	tm := e.makeTeam()
	inst := tm.cookies["installer"]
	var v struct {
		ID      string   `json:"id"`
		Cameras []string `json:"cameras"`
		Work    string   `json:"work"`
	}
	e.must(201, "POST", "/api/v1/maintenance", map[string]any{"cameras": []string{"cam1"}, "work": "Cleaned the lens of cam1."}, inst, &v)
	if v.ID == "" || len(v.Cameras) != 1 || v.Work != "Cleaned the lens of cam1." {
		t.Fatalf("visit %+v", v)
	}
	for _, c := range []struct {
		body any
		want string
	}{
		{map[string]any{"cameras": []string{"nocam"}, "work": "x"}, "no camera nocam"},
		{map[string]any{"cameras": []string{"../x"}, "work": "x"}, "bad camera id"},
		{map[string]any{"work": ""}, "work"},
	} {
		b, _ := json.Marshal(c.body)
		resp := e.do("POST", "/api/v1/maintenance", "application/json", string(b), inst)
		if msg := jsonError(t, resp, 400); !strings.Contains(msg, c.want) {
			t.Errorf("POST %s: %q, want %q", b, msg, c.want)
		}
	}
	if resp := e.do("POST", "/api/v1/maintenance", "application/json", `{"work":"x"}`, tm.cookies["operator"]); resp.StatusCode != 403 {
		t.Fatalf("operator: %d, want 403", resp.StatusCode)
	}
	var list []struct {
		ID        string `json:"id"`
		ActorName string `json:"actor_name"`
	}
	e.must(200, "GET", "/api/v1/maintenance", nil, inst, &list)
	if len(list) != 1 || list[0].ID != v.ID || list[0].ActorName != "installer" {
		t.Fatalf("visits %+v", list)
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	if len(al.visits) != 1 || al.visits[0] != [2]int{1, 1} {
		t.Fatalf("upstream maintenance events %v, want [[1 1]]", al.visits)
	}
}

// Issue 18: a camera's sub stream is set through the API (no password in
// it: the camera's applies), shown redacted, and removed with "none".
func TestCameraSubSourceAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	inst := tm.cookies["installer"]
	body := func(sub string) map[string]any {
		return map[string]any{"id": "c2", "source": "test://pattern?width=320&height=240&fps=5", "sub_source": sub, "zone": "entrance",
			"signage_by": "A. Installer", "signage_date": "2026-11-27"}
	}
	b, _ := json.Marshal(body("rtsp://admin:pw@192.168.1.20/sub"))
	if msg := jsonError(t, e.do("POST", "/api/v1/cameras", "application/json", string(b), inst), 400); !strings.Contains(msg, "carries a password") {
		t.Fatalf("sub stream with a password: %q", msg)
	}
	e.must(201, "POST", "/api/v1/cameras", body("test://pattern?width=160&height=96&fps=5"), inst, nil)
	var c struct {
		SubSource string `json:"sub_source"`
	}
	e.must(200, "GET", "/api/v1/cameras/c2", nil, inst, &c)
	if c.SubSource != "test://pattern?width=160&height=96&fps=5" {
		t.Fatalf("sub_source %q", c.SubSource)
	}
	e.must(200, "PUT", "/api/v1/cameras/c2", map[string]any{"zone": "entrance", "sub_source": "none", "signage_by": "A. Installer", "signage_date": "2026-11-27"}, inst, nil)
	var after map[string]any
	e.must(200, "GET", "/api/v1/cameras/c2", nil, inst, &after)
	if _, has := after["sub_source"]; has {
		t.Fatalf("after none: sub_source %v", after["sub_source"])
	}
}

// TestScheduleOverLAN (issue 18, R30, R27): the camera form sets the
// recording schedule. A schedule that records less than before (here:
// the first one on a camera that recorded always) answers 202 and waits
// for an approver; widening applies at once; bad windows answer 400
// naming the window; removing the schedule (always) applies at once.
func TestScheduleOverLAN(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	inst, ap := tm.cookies["installer"], tm.cookies["approver"]
	put := func(ws []scheduleView) map[string]any {
		return map[string]any{"zone": "entrance", "signage_by": "A. Installer", "signage_date": "2026-11-27", "schedule": ws}
	}
	office := []scheduleView{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "08:00", To: "19:00"}}
	for name, ws := range map[string][]scheduleView{
		"bad clock":    {{Days: []string{"mon"}, From: "08:00", To: "25:00"}},
		"bad day":      {{Days: []string{"someday"}, From: "08:00", To: "18:00"}},
		"overlap":      {office[0], {Days: []string{"tue"}, From: "18:00", To: "20:00"}},
		"no days":      {{Days: nil, From: "08:00", To: "18:00"}},
		"empty window": {{Days: []string{"mon"}, From: "08:00", To: "08:00"}},
	} {
		resp := e.do("PUT", "/api/v1/cameras/cam1", "application/json", mustJSON(t, put(ws)), inst)
		body := readAll(t, resp)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "schedule") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	var p pendingView
	e.must(http.StatusAccepted, "PUT", "/api/v1/cameras/cam1", put(office), inst, &p)
	if p.Kind != "schedule_reduce" {
		t.Fatalf("202 %+v", p)
	}
	var cam cameraView
	e.must(http.StatusOK, "GET", "/api/v1/cameras/cam1", nil, inst, &cam)
	if len(cam.Schedule) != 0 {
		t.Fatalf("schedule applied without approval: %+v", cam.Schedule)
	}
	e.must(http.StatusOK, "POST", "/api/v1/grants/"+p.Request+"/approve", nil, ap, nil)
	e.must(http.StatusOK, "GET", "/api/v1/cameras/cam1", nil, inst, &cam)
	if len(cam.Schedule) != 1 || cam.Schedule[0].From != "08:00" || cam.Schedule[0].To != "19:00" {
		t.Fatalf("approved schedule: %+v", cam.Schedule)
	}
	// Wider, then always: at once.
	wider := []scheduleView{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat"}, From: "07:00", To: "20:00"}}
	e.must(http.StatusOK, "PUT", "/api/v1/cameras/cam1", put(wider), inst, &cam)
	if len(cam.Schedule) != 1 || len(cam.Schedule[0].Days) != 6 {
		t.Fatalf("wider schedule: %+v", cam.Schedule)
	}
	e.must(http.StatusOK, "PUT", "/api/v1/cameras/cam1", put([]scheduleView{}), inst, &cam)
	if len(cam.Schedule) != 0 {
		t.Fatalf("schedule not removed: %+v", cam.Schedule)
	}
}
