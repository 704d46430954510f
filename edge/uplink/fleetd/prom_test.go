package fleetd

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/edgerec/edgerec/edge/uplink/fleetd/fleetsim"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// promTool finds a Prometheus binary (Debian package prometheus, installed
// by scripts/deps.sh). Missing: the test fails when CI says so
// (EDGEREC_REQUIRE_SWTPM=1, set by CI for its required tools), else skips.
func promTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("EDGEREC_REQUIRE_SWTPM") == "1" {
		t.Fatalf("%s not found: run scripts/deps.sh (Debian package prometheus)", name)
	}
	t.Skipf("%s not installed (scripts/deps.sh installs the prometheus package)", name)
	return ""
}

// Issue 17: the alerting rules are valid and each alert fires for its
// fault (promtool rule unit tests, ops/alerts_test.yml).
func TestPromRules(t *testing.T) {
	pt := promTool(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(pt, args...)
		cmd.Dir = "ops"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every alert has a unit test that expects it to fire.
	rules, _ := os.ReadFile("ops/alerts.yml")
	tests, _ := os.ReadFile("ops/alerts_test.yml")
	for _, m := range regexp.MustCompile(`(?m)^\s+- alert: (\S+)`).FindAllSubmatch(rules, -1) {
		if !regexp.MustCompile(`alertname: ` + string(m[1]) + `\n\s+exp_alerts:\n\s+- exp_labels`).Match(tests) {
			t.Errorf("alert %s has no firing unit test", m[1])
		}
	}
}

// The Grafana dashboard is JSON and queries only metrics the service
// exports.
func TestDashboardUsesOurMetrics(t *testing.T) {
	raw, err := os.ReadFile("ops/grafana-fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	s, _ := newTestService(t, Config{})
	g := fleetsim.New("edgerec", 1, 2)
	g.SkipAudit(1)
	feed(s, g.Beacon(), g.Event(wire.EvTamper, wire.SevCritical, 1))
	s.Gateway(g.Device)
	exported := metricsText(t, s)
	for _, m := range regexp.MustCompile(`edgerec_fleet_[a-z_]+`).FindAllString(string(raw), -1) {
		if !strings.Contains(exported, "# TYPE "+m+" ") {
			t.Errorf("dashboard queries %s, which the service does not export", m)
		}
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// Issue 17 (CI): a real Prometheus scrapes `fleet serve` and evaluates
// alerts.yml (its waiting times cut to 0 s, the service's clock moved
// instead): a gateway that goes silent (connection cut without DISCONNECT,
// as on SIGKILL, so the broker publishes its retained offline will), a
// lost camera, a horizon under the floor and a stalled audit stream each
// fire their alert.
func TestPrometheusScrapesFleet(t *testing.T) {
	prom := promTool(t, "prometheus")
	b := uplinktest.StartBroker(t)
	clk := &clock{t: time.Now()}
	s, err := New(Config{MQTT: brokerOpts(b), Share: "ops"}, Deps{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "subscribed", s.connected.Load)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	// gw-kill: an MQTT session with the offline status as its will.
	kill := fleetsim.New("edgerec", 1, 1)
	kill.Device = "gw-kill"
	will := kill.Status(false)
	cli, conn := connectWithWill(t, b, "gw-kill", &paho.WillMessage{Topic: will.Topic, Payload: will.Payload, QoS: 1, Retain: true})
	on := kill.Status(true)
	if _, err := cli.Publish(ctx, &paho.Publish{Topic: on.Topic, Payload: on.Payload, QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}
	bm := kill.Beacon()
	if _, err := cli.Publish(ctx, &paho.Publish{Topic: bm.Topic, Payload: bm.Payload, QoS: 1}); err != nil {
		t.Fatal(err)
	}
	// The others through the load player: a lost camera, a low horizon,
	// a stalled audit stream.
	gws := fleetsim.Fleet("edgerec", 4, 2)
	gws[1].Cameras[0].State = wire.CamLost
	_, err = fleetsim.Play(ctx, fleetsim.LoadConfig{MQTT: brokerOpts(b), Rounds: 3, AuditPerRound: 2, Conns: 1, Inflight: 1,
		Hook: func(r int, g *fleetsim.Gateway) { g.StallAudit = g.Device == "gw-00003" && r == 2 }}, gws)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "beacons", func() bool {
		gw, ok := s.Gateway("gw-00003")
		return ok && gw.Beacons == 3
	})
	// 11 minutes later (the camera has been lost that long) the gateways
	// beacon again; gw-00002's horizon has dropped under the floor.
	clk.Add(11 * time.Minute)
	for _, i := range []int{0, 1, 3} {
		m := gws[i].Beacon()
		s.Handle(m.Topic, m.Payload)
	}
	hb := gws[2].Beacon()
	var beacon wire.Beacon
	if _, err := beacon.UnmarshalMsg(hb.Payload); err != nil {
		t.Fatal(err)
	}
	beacon.HorizonS = beacon.FloorS / 2
	raw, _ := wire.Marshal(&beacon)
	s.Handle(hb.Topic, raw)
	// SIGKILL: the socket goes away without DISCONNECT.
	conn.Close()
	waitFor(t, "the retained offline will", func() bool {
		gw, _ := s.Gateway("gw-kill")
		return gw.Status == wire.StateOffline
	})

	dir := t.TempDir()
	rules, _ := os.ReadFile("ops/alerts.yml")
	fast := regexp.MustCompile(`for: \d+m`).ReplaceAll(rules, []byte("for: 0s"))
	os.WriteFile(filepath.Join(dir, "alerts.yml"), fast, 0o600)
	addr := freeAddr(t)
	conf := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [alerts.yml]
scrape_configs:
  - job_name: fleet
    static_configs: [{targets: ["%s"]}]
`, strings.TrimPrefix(srv.URL, "http://"))
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o600)
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	cmd.Dir = dir
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	want := map[string]string{"GatewayDown": "gw-kill", "CameraLost": "gw-00001", "HorizonBelowFloor": "gw-00002", "AuditStreamGap": "gw-00003"}
	deadline := time.Now().Add(60 * time.Second)
	for {
		firing := map[string]string{}
		resp, err := http.Get("http://" + addr + "/api/v1/alerts")
		if err == nil {
			var body struct {
				Data struct {
					Alerts []promAlert `json:"alerts"`
				} `json:"data"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			for _, a := range body.Data.Alerts {
				if a.State == "firing" {
					firing[a.Labels["alertname"]] += a.Labels["device"] + " "
				}
			}
		}
		missing := ""
		for name, dev := range want {
			if !strings.Contains(firing[name], dev+" ") {
				missing += name + "(" + dev + ") "
			}
		}
		for name, devs := range firing {
			for _, d := range strings.Fields(devs) {
				if d == "gw-00000" {
					t.Errorf("the healthy gateway fires %s", name)
				}
			}
		}
		if missing == "" {
			t.Logf("firing: %v", firing)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not firing: %s; firing: %v\n%s", missing, firing, log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// connectWithWill connects like a gateway and returns the raw connection,
// so the test can cut it as a SIGKILL would (no DISCONNECT: the broker
// publishes the will).
func connectWithWill(t *testing.T, b *uplinktest.Broker, id string, will *paho.WillMessage) (*paho.Client, net.Conn) {
	t.Helper()
	tc, err := mqttc.TLSConfig(brokerOpts(b), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", b.Port), tc)
	if err != nil {
		t.Fatal(err)
	}
	cli := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: packets.NewThreadSafeConn(conn)})
	if _, err := cli.Connect(context.Background(), &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true,
		WillMessage: will, WillProperties: &paho.WillProperties{}}); err != nil {
		t.Fatal(err)
	}
	return cli, conn
}
