package fleetd

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/fleetd/fleetsim"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestService(t *testing.T, cfg Config) (*Service, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, err := New(cfg, Deps{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clk
}

func feed(s *Service, ms ...fleetsim.Msg) {
	for _, m := range ms {
		s.Handle(m.Topic, m.Payload)
	}
}

func metricsText(t *testing.T, s *Service) string {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteMetrics(&b, s.Snapshot()); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func wantLine(t *testing.T, text, line string) {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return
		}
	}
	t.Errorf("metrics lack %q", line)
}

// R16, issue 17: a gateway whose audit feed stalls while its beacons go on
// (the head advances) shows a gap with the missing range; records that
// arrive late fill it.
func TestAuditStallWhileBeaconsContinue(t *testing.T) {
	s, clk := newTestService(t, Config{})
	g := fleetsim.New("edgerec", 1, 4)
	g.Now = clk.Now
	feed(s, g.Status(true), g.Beacon())
	for range 5 {
		feed(s, g.Audit()...)
	}
	feed(s, g.Beacon())
	gw, _ := s.Gateway(g.Device)
	if gw.Audit.GapRecords() != 0 || gw.Audit.High != 5 || gw.Audit.Received != 5 {
		t.Fatalf("healthy stream: %+v", gw.Audit)
	}
	g.StallAudit = true
	for range 7 {
		feed(s, g.Audit()...) // nothing is sent
		clk.Add(time.Minute)
		feed(s, g.Beacon())
	}
	gw, _ = s.Gateway(g.Device)
	if gw.Audit.GapRecords() != 7 {
		t.Fatalf("gap = %d, want 7 (%+v)", gw.Audit.GapRecords(), gw.Audit)
	}
	m := metricsText(t, s)
	wantLine(t, m, `edgerec_fleet_audit_gap{device="gw-00001",first="6"} 7`)
	wantLine(t, m, `edgerec_fleet_audit_gap_records{device="gw-00001"} 7`)
	wantLine(t, m, `edgerec_fleet_gateway_up{device="gw-00001"} 1`)
	if p := gw.Problems(clk.Now().UnixMilli(), 3); len(p) == 0 || p[0].Code != "audit.gap" {
		t.Fatalf("problems %+v", p)
	}
}

// R16: holes are ranges; late records fill them; a prev that does not link
// and a head hash that differs are breaks; duplicates are not counted.
func TestAuditHolesBreaksDuplicates(t *testing.T) {
	s, _ := newTestService(t, Config{})
	g := fleetsim.New("edgerec", 2, 1)
	var recs []fleetsim.Msg
	for range 10 {
		recs = append(recs, g.Audit()...)
	}
	feed(s, recs[0], recs[1], recs[4], recs[8])
	gw, _ := s.Gateway(g.Device)
	if got := gw.Audit.Missing(); len(got) != 2 || got[0] != (Range{3, 4}) || got[1] != (Range{6, 8}) {
		t.Fatalf("missing %+v", got)
	}
	feed(s, recs[2], recs[6], recs[6], recs[0])
	gw, _ = s.Gateway(g.Device)
	if got := gw.Audit.Missing(); len(got) != 3 || got[0] != (Range{4, 4}) || got[1] != (Range{6, 6}) || got[2] != (Range{8, 8}) {
		t.Fatalf("after fill: %+v", got)
	}
	if gw.Audit.Dups != 2 || gw.Audit.Received != 6 {
		t.Fatalf("dups %d received %d", gw.Audit.Dups, gw.Audit.Received)
	}
	feed(s, recs[3], recs[5], recs[7], recs[9])
	gw, _ = s.Gateway(g.Device)
	if gw.Audit.GapRecords() != 0 || len(gw.Audit.Breaks) != 0 {
		t.Fatalf("complete stream: %+v", gw.Audit)
	}
	feed(s, g.BrokenAudit())
	gw, _ = s.Gateway(g.Device)
	if len(gw.Audit.Breaks) != 1 || gw.Audit.Breaks[0].Seq != 11 || gw.Audit.Breaks[0].Why != "prev" {
		t.Fatalf("breaks %+v", gw.Audit.Breaks)
	}
	wantLine(t, metricsText(t, s), `edgerec_fleet_audit_chain_broken{device="gw-00002",seq="11",why="prev"} 1`)

	// The beacon's head hash differs from the record at that seq.
	h := fleetsim.New("edgerec", 3, 1)
	feed(s, h.Audit()...)
	b := h.Beacon()
	bad := strings.Replace(string(b.Payload), mustHead(h), strings.Repeat("e", 64), 1)
	s.Handle(b.Topic, []byte(bad))
	gw, _ = s.Gateway(h.Device)
	if len(gw.Audit.Breaks) != 1 || gw.Audit.Breaks[0].Why != "head" {
		t.Fatalf("head break %+v", gw.Audit)
	}
}

func mustHead(g *fleetsim.Gateway) string { _, h := g.AuditHead(); return h }

// History before the service met a gateway is not a gap; a re-provisioned
// device (chain from seq 1) starts again.
func TestAuditFirstContactAndReset(t *testing.T) {
	s, _ := newTestService(t, Config{})
	g := fleetsim.New("edgerec", 4, 1)
	g.SkipAudit(100)
	feed(s, g.Beacon())
	feed(s, g.Audit()...)
	gw, _ := s.Gateway(g.Device)
	if gw.Audit.GapRecords() != 0 || gw.Audit.Base != 100 || gw.Audit.High != 101 || len(gw.Audit.Breaks) != 0 {
		t.Fatalf("first contact %+v", gw.Audit)
	}
	n := fleetsim.New("edgerec", 4, 1) // same device, chain again from 1
	n.Boot = strings.Repeat("1", 16)
	feed(s, n.Audit()...)
	feed(s, n.Beacon())
	gw, _ = s.Gateway(g.Device)
	if gw.Audit.Resets != 1 || gw.Audit.High != 1 || gw.Audit.GapRecords() != 0 {
		t.Fatalf("reset %+v", gw.Audit)
	}
}

// Issue 17: the first signing key is pinned; another one is an alert.
func TestDeviceKeyPinnedAndChange(t *testing.T) {
	s, _ := newTestService(t, Config{})
	g := fleetsim.New("edgerec", 5, 1)
	feed(s, g.Beacon())
	first := hex.EncodeToString(g.Key)
	g.Key = fleetsim.New("edgerec", 6, 1).Key
	feed(s, g.Beacon())
	gw, _ := s.Gateway(g.Device)
	if gw.DeviceKey != first || !gw.KeyChanged || gw.SeenKey == first {
		t.Fatalf("key %+v", gw)
	}
	m := metricsText(t, s)
	wantLine(t, m, `edgerec_fleet_device_key_changed{device="gw-00005"} 1`)
	wantLine(t, m, `edgerec_fleet_gateway_info{device="gw-00005",firmware="1.7.0",key_provider="tpm2",key="`+KeyFingerprint(first)+`"} 1`)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/gateways/gw-00005/key")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("key api: %v %v", err, resp)
	}
	resp.Body.Close()
}

// Bad input: counted by reason, dropped; other gateways unaffected; the
// service stays up.
func TestBadInputCountedAndDropped(t *testing.T) {
	s, clk := newTestService(t, Config{FloodRate: 1, FloodBurst: 20})
	good := fleetsim.New("edgerec", 7, 2)
	bad := fleetsim.New("edgerec", 8, 2)
	feed(s, good.Beacon(), bad.Beacon())
	b := bad.Beacon()
	s.Handle("edgerec/gw-00008/beacon", b.Payload[:len(b.Payload)/2])                                            // truncated
	s.Handle("edgerec/gw-00008/beacon", bytes.Repeat([]byte{0x90}, 5000))                                        // oversized
	s.Handle("edgerec/gw-00008/video", b.Payload)                                                                // unknown kind
	s.Handle("other/gw-00008/beacon", b.Payload)                                                                 // other prefix
	s.Handle("edgerec/gw-00007/beacon", b.Payload)                                                               // spoofed device
	s.Handle("edgerec/gw-00008/beacon", bytes.Replace(b.Payload, []byte{0xa1, 'v', 1}, []byte{0xa1, 'v', 9}, 1)) // v=9
	s.Handle("edgerec/gw-00008/beacon", append([]byte{0xc4, 3, 0, 0, 1}, b.Payload...))                          // binary junk
	for range 100 {
		s.Handle(b.Topic, b.Payload) // flood
	}
	c := s.Counts()
	want := map[string]uint64{DropInvalid: 2, DropOversize: 1, DropTopic: 2, DropMismatch: 1, DropVersion: 1}
	for r, n := range want {
		if c.Dropped[r] != n {
			t.Errorf("dropped[%s] = %d, want %d (%v)", r, c.Dropped[r], n, c.Dropped)
		}
	}
	if c.Dropped[DropFlood] < 70 {
		t.Errorf("flood drops %d", c.Dropped[DropFlood])
	}
	clk.Add(time.Minute)
	feed(s, good.Beacon(), bad.Beacon()) // both recover / keep going
	gw, _ := s.Gateway(good.Device)
	if gw.Beacons != 2 || len(gw.Dropped) != 1 || gw.Dropped[DropMismatch] != 1 { // the spoof on its topic
		t.Fatalf("good gateway affected: %+v", gw)
	}
	m := metricsText(t, s)
	wantLine(t, m, `edgerec_fleet_gateway_dropped_total{device="gw-00008",reason="flood"} `+utoa(c.Dropped[DropFlood]))
	// The cap on gateways holds.
	s2, _ := newTestService(t, Config{MaxGateways: 3})
	for i := range 10 {
		feed(s2, fleetsim.New("edgerec", 100+i, 1).Beacon())
	}
	if len(s2.Snapshot()) != 3 || s2.Counts().Dropped[DropCap] != 7 {
		t.Fatalf("cap: %d gateways, %v", len(s2.Snapshot()), s2.Counts().Dropped)
	}
	checkMetricsFormat(t, m)
}

func TestMetricsLint(t *testing.T) {
	s, _ := newTestService(t, Config{})
	g := fleetsim.New("edgerec", 2, 3)
	feed(s, g.Beacon(), g.Event("tamper", 3, 1))
	checkMetricsFormat(t, metricsText(t, s))
}

// checkMetricsFormat runs promtool check metrics when it is installed.
func checkMetricsFormat(t *testing.T, text string) {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		return // TestPromRules reports a missing promtool
	}
	cmd := exec.Command(p, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// The state survives a restart (bbolt); the page lists problems first and
// has no more than ids and codes.
func TestStatePersistsAndPage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	s, clk := newTestService(t, Config{StatePath: path})
	ok := fleetsim.New("edgerec", 10, 3)
	bad := fleetsim.New("edgerec", 11, 3)
	bad.Cameras[1].State = wire.CamLost
	ok.Now, bad.Now = clk.Now, clk.Now
	feed(s, ok.Beacon(), bad.Beacon())
	for range 3 {
		feed(s, ok.Audit()...)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _ := newTestService(t, Config{StatePath: path})
	gw, found := s2.Gateway(ok.Device)
	if !found || gw.Audit.High != 3 || gw.Beacons != 1 {
		t.Fatalf("after restart %+v", gw)
	}
	srv := httptest.NewServer(s2.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	page := body.String()
	if i, j := strings.Index(page, bad.Device), strings.Index(page, ok.Device); i < 0 || j < 0 || i > j {
		t.Fatalf("problem gateway not first:\n%s", page)
	}
	if !strings.Contains(page, "camera.lost") {
		t.Fatal("page lacks the problem")
	}
	resp, err = http.Get(srv.URL + "/api/gateways/" + ok.Device + "/audit")
	if err != nil {
		t.Fatal(err)
	}
	body.Reset()
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(body.String(), `"ok": true`) || strings.Count(body.String(), `"seq":`) != 3 {
		t.Fatalf("audit report: %s", body.String())
	}
}

// Records overtaken in transit right after first contact (forwarding
// between shards, redelivery) extend the start back instead of being
// taken as history; after the warm-up an old record is a duplicate.
func TestAuditReorderAtFirstContact(t *testing.T) {
	s, clk := newTestService(t, Config{})
	g := fleetsim.New("edgerec", 20, 1)
	var recs []fleetsim.Msg
	for range 4 {
		recs = append(recs, g.Audit()...)
	}
	feed(s, g.Beacon(), recs[2], recs[0], recs[3], recs[1])
	gw, _ := s.Gateway(g.Device)
	if gw.Audit.GapRecords() != 0 || gw.Audit.Received != 4 || gw.Audit.Base != 0 || len(gw.Audit.Breaks) != 0 {
		t.Fatalf("reordered start: %+v", gw.Audit)
	}
	clk.Add(time.Minute)
	h := fleetsim.New("edgerec", 21, 1)
	h.SkipAudit(5)
	feed(s, h.Beacon())
	clk.Add(time.Minute)
	feed(s, h.Audit()...)
	gw, _ = s.Gateway(h.Device)
	if gw.Audit.Base != 5 || gw.Audit.GapRecords() != 0 {
		t.Fatalf("after warm-up: %+v", gw.Audit)
	}
}
