package fleetd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/fleetd/fleetsim"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
)

// TestHelperFleetServe is not a test: TestFleetLoad re-executes the test
// binary with FLEETD_HELPER set to run one service per process, so its CPU
// and memory can be measured apart from the load player and the broker.
func TestHelperFleetServe(t *testing.T) {
	if os.Getenv("FLEETD_HELPER") == "" {
		t.Skip("helper process only")
	}
	f := strings.Split(os.Getenv("FLEETD_HELPER"), ",") // broker,ca,cert,key,listen,state,shards,shard
	shards, _ := strconv.Atoi(f[6])
	shard, _ := strconv.Atoi(f[7])
	s, err := New(Config{MQTT: mqttc.Options{Broker: f[0], CAFile: f[1], CertFile: f[2], KeyFile: f[3]},
		Listen: f[4], StatePath: f[5], Share: "load", FloodBurst: 1e6, Shards: shards, Shard: shard}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

type proc struct {
	cmd  *exec.Cmd
	addr string
}

func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func statusKB(pid int, key string) int {
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), key+":") {
			n, _ := strconv.Atoi(strings.Fields(sc.Text())[1])
			return n
		}
	}
	return 0
}

func consumed(addr string) (uint64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n uint64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "edgerec_fleet_messages_total{") && !strings.Contains(l, `"status"`) {
			v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
			n += uint64(v)
		}
	}
	return n, nil
}

// TestFleetLoad measures fleet serve under N simulated gateways
// (EDGEREC_FLEET_LOAD=N, EDGEREC_FLEET_INSTANCES=1|2, EDGEREC_FLEET_ROUNDS,
// EDGEREC_FLEET_SHARDS (default: one per instance);
// skipped otherwise: it is a measurement, not a check). Each round is one
// compressed 60 s beacon interval: a beacon and an audit record per
// gateway, an event from every fifth.
func TestFleetLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EDGEREC_FLEET_LOAD"))
	if n <= 0 {
		t.Skip("set EDGEREC_FLEET_LOAD=N to measure")
	}
	inst, _ := strconv.Atoi(os.Getenv("EDGEREC_FLEET_INSTANCES"))
	inst = max(inst, 1)
	rounds, _ := strconv.Atoi(os.Getenv("EDGEREC_FLEET_ROUNDS"))
	rounds = max(rounds, 5)
	shards := inst
	if os.Getenv("EDGEREC_FLEET_SHARDS") != "" { // 1 with 2 instances: round robin only, no affinity
		shards, _ = strconv.Atoi(os.Getenv("EDGEREC_FLEET_SHARDS"))
	}
	b := uplinktest.StartBroker(t)
	dir := t.TempDir()
	var ps []proc
	for i := range inst {
		addr := freeAddr(t)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFleetServe$")
		cmd.Env = append(os.Environ(), "FLEETD_HELPER="+strings.Join([]string{b.URL(), b.Certs.CA, b.Certs.ClientCert, b.Certs.ClientKey,
			addr, filepath.Join(dir, fmt.Sprintf("fleet%d.db", i)), strconv.Itoa(shards), strconv.Itoa(i % shards)}, ","))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
		ps = append(ps, proc{cmd, addr})
	}
	for _, p := range ps {
		waitFor(t, "helper up", func() bool { _, err := consumed(p.addr); return err == nil })
	}
	time.Sleep(time.Second) // subscribed
	gws := fleetsim.Fleet("edgerec", n, 8)
	cpu0 := make([]float64, len(ps))
	for i, p := range ps {
		cpu0[i] = cpuSeconds(p.cmd.Process.Pid)
	}
	start := time.Now()
	st, err := fleetsim.Play(context.Background(), fleetsim.LoadConfig{
		MQTT: brokerOpts(b), Rounds: rounds, AuditPerRound: 1, EventEvery: 5, Conns: 8, Inflight: 32, Status: true,
	}, gws)
	if err != nil {
		t.Fatal(err)
	}
	want := st.Total() - st.Published[1]
	var got uint64
	for {
		got = 0
		for _, p := range ps {
			c, _ := consumed(p.addr)
			got += c
		}
		if got >= want || time.Since(start) > 10*time.Minute {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	el := time.Since(start)
	t.Logf("%d gateways, %d instance(s), %d rounds: published %s", n, inst, rounds, st)
	t.Logf("consumed %d of %d non-status messages in %s = %.0f msg/s end to end (compression: one 60 s interval per %.2f s)",
		got, want, el.Round(time.Millisecond), float64(got)/el.Seconds(), el.Seconds()/float64(rounds))
	for i, p := range ps {
		pid := p.cmd.Process.Pid
		cpu := cpuSeconds(pid) - cpu0[i]
		t0 := time.Now()
		resp, err := http.Get("http://" + p.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		size, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		scrape := time.Since(t0)
		gaps := gapGateways(t, p.addr)
		t.Logf("instance %d: %d gateways with an audit gap; CPU %.1f s over %.1f s (%.0f%% of one core), RSS %d MiB (peak %d MiB), /metrics %.1f MiB in %s",
			i, gaps, cpu, el.Seconds(), 100*cpu/el.Seconds(), statusKB(pid, "VmRSS")>>10, statusKB(pid, "VmHWM")>>10,
			float64(size)/(1<<20), scrape.Round(time.Millisecond))
	}
	if got < want {
		t.Errorf("consumed %d of %d", got, want)
	}
}

func gapGateways(t *testing.T, addr string) int {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "edgerec_fleet_audit_gap{") {
			n++
		}
	}
	return n
}
