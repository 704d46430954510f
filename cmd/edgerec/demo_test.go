package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/storage"
)

// buildBinary builds edgerec once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edgerec")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDemoEndToEnd runs `edgerec run --demo` in a temp dir as a newcomer
// would (issue 2): the LAN page answers over TLS within 15 s; after 20 s
// the store holds a closed segment (seen through the page's health API);
// SIGTERM exits 0; `edgerec check` passes; and every stored picture,
// decoded back, has the fill mask at the fill colour and the pixelation
// without detail, while the unmasked area is a live picture (R2, D3, D4).
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo run takes ~30 s")
	}
	bin := buildBinary(t)
	work := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--demo", "--listen", "127.0.0.1:0")
	cmd.Dir = work
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := make(chan string, 32)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	urlRe := regexp.MustCompile(`LAN page:\s+(https://\S+)`)
	codeRe := regexp.MustCompile(`setup code: (\S+)`)
	var url, code string
	deadline := time.After(15 * time.Second)
	for url == "" || code == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited early\nstderr:\n%s", stderr.String())
			}
			if m := urlRe.FindStringSubmatch(l); m != nil {
				url = strings.TrimSuffix(m[1], "/")
			}
			if m := codeRe.FindStringSubmatch(l); m != nil {
				code = m[1]
			}
		case <-deadline:
			t.Fatalf("no URL and setup code within 15 s\nstderr:\n%s", stderr.String())
		}
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, // self-signed; fingerprint printed
	}}
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatalf("LAN page over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("LAN page: status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	t.Logf("LAN page answered over TLS %.1fs after start", time.Since(start).Seconds())
	// The printed one-time setup code creates the first admin.
	post := func(path string, v any) int {
		body, _ := json.Marshal(v)
		req, _ := http.NewRequest("POST", url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const pw = "demo admin password 1"
	if st := post("/api/v1/setup", map[string]string{"code": code, "user": "admin", "password": pw}); st != 200 && st != 201 {
		t.Fatalf("setup with the printed code: status %d", st)
	}
	if st := post("/api/v1/setup", map[string]string{"code": code, "user": "admin2", "password": pw}); st < 400 {
		t.Fatalf("the setup code worked twice: status %d", st)
	}
	if st := post("/api/v1/login", map[string]string{"user": "admin", "password": pw}); st != 200 {
		t.Fatalf("login: status %d", st)
	}

	// After 20 s the store must hold a closed segment.
	time.Sleep(time.Until(start.Add(21 * time.Second)))
	resp, err = client.Get(url + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Cameras []struct {
			ID, State string
			FPS       float64
		}
		Storage struct {
			Segments       int    `json:"segments"`
			ClosedSegments uint64 `json:"closed_segments"`
			Cipher         string `json:"cipher"`
		}
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("health: %v: %s", err, raw)
	}
	t.Logf("health after 20 s: %s", raw)
	if h.Storage.ClosedSegments < 1 {
		t.Fatalf("no closed segment after 20 s: %s", raw)
	}
	if len(h.Cameras) != 0 {
		t.Fatalf("an admin sees camera details (R19: admin has no cameras.read): %s", raw)
	}
	// An admin has no video (R11): the snapshot is refused.
	resp, err = client.Get(url + "/api/v1/cameras/demo1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("admin snapshot: %d, want 403", resp.StatusCode)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}

	dataDir := filepath.Join(work, "var", "demo")
	out, err := exec.Command(bin, "check", "--data", dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("edgerec check after SIGTERM: %v\n%s", err, out)
	}
	t.Logf("check:\n%s", out)

	checkStoredMasks(t, dataDir)
}

// checkStoredMasks decodes every stored frame of the demo camera and checks
// the masks in every picture with the independent oracle.
func checkStoredMasks(t *testing.T, dataDir string) {
	t.Helper()
	ctx := context.Background()
	demo := config.Demo(dataDir)
	cam := demo.Cameras[0]
	masks := cam.MaskList()
	store, err := storage.Open(ctx, dataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	segs, err := store.Segments(ctx, cam.ID, time.Time{}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 2 {
		t.Fatalf("want ≥ 2 segments after 20 s with 10 s segments, got %d", len(segs))
	}
	dec, err := codec.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	pictures := 0
	worst := map[string]pipeline.MaskResult{}
	errStop := errors.New("stop")
	err = store.ReadFrames(ctx, cam.ID, segs[0].Start, segs[len(segs)-1].End.Add(time.Second), func(f storage.Frame) error {
		pic, err := dec.Decode(f.Data)
		if err != nil {
			return err
		}
		if pic == nil {
			return nil
		}
		pictures++
		res := pipeline.MaskCheck{}.Check(pic, masks)
		if !res.OK {
			return fmt.Errorf("stored picture %d at %s: %+v (outside std-dev %.1f)", pictures, f.Time.Format(time.RFC3339Nano), res.Masks, res.OutsideStdDev)
		}
		for _, m := range res.Masks {
			if w, ok := worst[m.Mask]; !ok || m.WorstDelta > w.WorstDelta || m.WorstGrad > w.WorstGrad {
				worst[m.Mask] = m
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		t.Fatal(err)
	}
	if pictures < 15*15 {
		t.Fatalf("decoded only %d stored pictures", pictures)
	}
	for _, m := range worst {
		t.Logf("worst picture: %s", m.Description)
	}
	t.Logf("%d stored pictures decoded, every mask verified in each", pictures)
}
