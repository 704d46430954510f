package fleet

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

func msg(t *testing.T, m wire.Message) []byte {
	t.Helper()
	b, err := wire.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// R23: a gateway whose beacons stop while it is online is flagged silent;
// offline gateways are not; garbage is counted, not shown.
func TestViewFlagsSilence(t *testing.T) {
	clock := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	v := NewView(Config{Now: func() time.Time { return clock }, StaleAfter: 3})
	boot := "0123456789abcdef"
	for _, dev := range []string{"gw-1", "gw-2", "gw-3"} {
		v.Handle("edgerec/"+dev+"/status", msg(t, &wire.Status{V: 1, Device: dev, Boot: boot, State: wire.StateOnline, Interval: 60}))
		v.Handle("edgerec/"+dev+"/beacon", msg(t, &wire.Beacon{V: 1, Device: dev, Boot: boot, Interval: 60, HorizonS: 10, FloorS: 20,
			CamsTotal: 2, Cameras: []wire.BeaconCamera{{ID: "0123456789abcdef", State: wire.CamRecording}, {ID: "1123456789abcdef", State: wire.CamLost}},
			Alerts: []wire.BeaconAlert{{Code: "horizon", Sev: 2}}}))
	}
	v.Handle("edgerec/gw-3/status", msg(t, &wire.Status{V: 1, Device: "gw-3", Boot: boot, State: wire.StateOffline, Interval: 60}))
	clock = clock.Add(2 * time.Minute)
	v.Handle("edgerec/gw-1/beacon", msg(t, &wire.Beacon{V: 1, Device: "gw-1", Boot: boot, Interval: 60}))
	if lines := v.Handle("edgerec/gw-1/beacon", []byte{0xc1}); len(lines) != 1 || lines[0].Type != "invalid" {
		t.Fatalf("garbage: %+v", lines)
	}
	clock = clock.Add(90 * time.Second) // gw-2: 3.5 intervals without a beacon
	changed := v.Check()
	if len(changed) != 1 || changed[0].Device != "gw-2" || !changed[0].Silent {
		t.Fatalf("changed %+v", changed)
	}
	rows := v.Rows()
	if rows[0].Silent || !rows[1].Silent || rows[2].Silent || rows[2].Online {
		t.Fatalf("rows %+v", rows)
	}
	if rows[1].CamsOK != 1 || rows[1].CamsTotal != 2 || !rows[1].BelowFloor || rows[1].Alerts[0] != "horizon" {
		t.Fatalf("row %+v", rows[1])
	}
	var out bytes.Buffer
	v.Render(&out)
	if !strings.Contains(out.String(), "SILENT") || !strings.Contains(out.String(), "1 invalid") {
		t.Fatalf("table:\n%s", out.String())
	}
}

func TestFilters(t *testing.T) {
	if f := (Config{}).Filters(); len(f) != 1 || f[0] != "edgerec/+/#" {
		t.Fatal(f)
	}
	if f := (Config{Prefix: "ops", Share: "consoles"}).Filters(); f[0] != "$share/consoles/ops/+/#" || f[1] != "ops/+/status" {
		t.Fatal(f)
	}
}
