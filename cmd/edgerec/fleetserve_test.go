package main

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/uplink/fleetd/fleetsim"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/storage"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Issue 17: `edgerec fleet serve` consumes the fleet, serves /metrics;
// `fleet audit --device` prints the received chain and fails on a gap;
// `verify --fleet` checks a wipe certificate against the key the fleet
// pinned, not the key the file carries (R25, R16).
func TestFleetServeAuditVerify(t *testing.T) {
	b := uplinktest.StartBroker(t)
	addr := freeAddr(t)
	state := filepath.Join(t.TempDir(), "fleet.db")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, &env{stdout: &fleetBuf{}, stderr: &fleetBuf{}, getenv: func(string) string { return "" }},
			[]string{"fleet", "serve", "--broker", b.URL(), "--ca", b.Certs.CA, "--cert", b.Certs.ClientCert, "--key", b.Certs.ClientKey,
				"--listen", addr, "--state", state})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("fleet serve exited %d", code)
		}
	}()
	base := "http://" + addr
	gws := fleetsim.Fleet("edgerec", 2, 2)
	gws[1].Device = "gw-9"             // the wipe certificate's device below
	time.Sleep(500 * time.Millisecond) // subscribed
	_, err := fleetsim.Play(ctx, fleetsim.LoadConfig{
		MQTT:   mqttc.Options{Broker: b.URL(), CAFile: b.Certs.CA, CertFile: b.Certs.ClientCert, KeyFile: b.Certs.ClientKey},
		Rounds: 3, AuditPerRound: 2, Conns: 1, Inflight: 1,
		Hook: func(r int, g *fleetsim.Gateway) { g.StallAudit = g.Device == "gw-9" && r == 2 },
	}, gws)
	if err != nil {
		t.Fatal(err)
	}
	var metrics string
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(metrics, `edgerec_fleet_audit_gap{device="gw-9",first="5"} 2`) {
		if time.Now().After(deadline) {
			t.Fatalf("no gap in /metrics:\n%s", metrics)
		}
		time.Sleep(100 * time.Millisecond)
		if resp, err := http.Get(base + "/metrics"); err == nil {
			var sb strings.Builder
			_, _ = fmt.Fprint(&sb, readAll(resp))
			metrics = sb.String()
		}
	}
	code, out, _ := runCLI(t, "fleet", "audit", "--device", "gw-00000", "--url", base)
	if code != 0 || !strings.Contains(out, "chain verification OK") || strings.Count(out, "\n6\t") > 1 {
		t.Fatalf("fleet audit ok gateway: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "fleet", "audit", "--device", "gw-9", "--url", base)
	if code != 1 || !strings.Contains(out, "MISSING seq 5–6") || !strings.Contains(out, "FAILED") {
		t.Fatalf("fleet audit stalled gateway: %d\n%s", code, out)
	}

	// Wipe certificates signed by the pinned key and by another key that
	// the certificate itself carries.
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], 2) // fleetsim.New(…, 1, …)'s key
	good := ed25519.NewKeyFromSeed(seed[:])
	_, forged, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	for name, k := range map[string]ed25519.PrivateKey{"good.json": good, "forged.json": forged} {
		doc, err := export.SignWipeCertificate(export.NewWipeCertificate("gw-9", storage.WipeReport{}, time.Now()), k)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), doc, 0o600)
	}
	if code, out, errOut := runCLI(t, "verify", filepath.Join(dir, "good.json"), "--fleet", base); code != 0 || !strings.Contains(out, "verification OK") {
		t.Fatalf("verify --fleet good: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "verify", filepath.Join(dir, "forged.json"), "--fleet", base); code == 0 {
		t.Fatalf("verify --fleet accepted a certificate signed by another key: %s %s", out, errOut)
	}
	// The same from a saved /api/keys file.
	resp, err := http.Get(base + "/api/keys")
	if err != nil {
		t.Fatal(err)
	}
	keys := readAll(resp)
	var ks []json.RawMessage
	if json.Unmarshal([]byte(keys), &ks) != nil || len(ks) != 2 {
		t.Fatalf("keys: %s", keys)
	}
	kf := filepath.Join(dir, "keys.json")
	os.WriteFile(kf, []byte(keys), 0o600)
	if code, _, _ := runCLI(t, "verify", filepath.Join(dir, "forged.json"), "--fleet", kf); code == 0 {
		t.Fatal("verify --fleet FILE accepted a forged certificate")
	}
	if code, _, errOut := runCLI(t, "verify", filepath.Join(dir, "good.json"), "--fleet", kf); code != 0 {
		t.Fatalf("verify --fleet FILE: %s", errOut)
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}
