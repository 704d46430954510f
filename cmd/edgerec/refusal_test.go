package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/storage"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProvisionRunRefusesProhibitedZone: provision a device, run it with a
// config holding a camera in a toilet (R1) and one without a signage
// attestation (R3) next to a good one: the good camera records, the other
// two are refused with the reason and nothing of theirs is stored.
// Provisioning again over the same dir is refused.
func TestProvisionRunRefusesProhibitedZone(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev")
	cfg := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-7}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: good
    source: "test://pattern?width=320&height=240&fps=15"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
  - id: wc
    source: "test://pattern?width=320&height=240&fps=15"
    zone: toilet
    signage: {attested_by: "A. Installer", date: 2026-11-27}
  - id: nosign
    source: "test://pattern?width=320&height=240&fps=15"
    zone: corridor
lan: {listen: "127.0.0.1:18444"}
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-7", "--config", cfg); code != 0 {
		t.Fatalf("provision: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-7", "--config", cfg); code == 0 || !strings.Contains(errOut, "re-provision") {
		t.Fatalf("second provision: exit %d, %s", code, errOut)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuf
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}, []string{"run", "--config", filepath.Join(data, "edgerec.yaml")})
	}()
	time.Sleep(4 * time.Second)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exit %d\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
	log := stderr.String()
	for _, want := range []string{`camera=wc`, `zone \"toilet\" is prohibited`, `camera=nosign`, `signage`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	code, out, errOut := runCLI(t, "check", "--data", data)
	if code != 0 || !strings.Contains(out, "audit") {
		t.Fatalf("check: %d\n%s%s", code, out, errOut)
	}
	// R1: each refusal is in the audit log, by camera id, with the rule.
	ps, err := policy.Open(context.Background(), policy.Config{DataDir: data}, policy.Deps{Sealer: testVault(t, data)})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ps.AuditAfter(context.Background(), 0, 100)
	ps.Close()
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]string{}
	for _, r := range recs {
		if r.Action == "camera.refuse" {
			refused[r.Target] = r.Detail
		}
	}
	if refused["wc"] != "R1 prohibited zone" || refused["nosign"] != "R3 signage attestation missing" || len(refused) != 2 {
		t.Fatalf("audited refusals %v", refused)
	}
	st, err := storage.Open(context.Background(), data, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for cam, want := range map[string]bool{"good": true, "wc": false, "nosign": false} {
		segs, err := st.Segments(context.Background(), cam, time.Time{}, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if (len(segs) > 0) != want {
			t.Errorf("camera %s: %d segments stored, want recorded=%v", cam, len(segs), want)
		}
	}
}
