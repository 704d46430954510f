package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/policy/grants"
)

// spsOfMP4 returns the SPS in the avcC box of an MP4 (the init segment).
func spsOfMP4(t *testing.T, b []byte) []byte {
	t.Helper()
	i := bytes.Index(b, []byte("avcC"))
	if i < 0 || len(b) < i+12 {
		t.Fatal("no avcC box in the export")
	}
	c := b[i+4:] // version, profile, compat, level, lengthSize, numSPS, len(2), sps
	if c[5]&0x1f < 1 {
		t.Fatal("avcC without SPS")
	}
	n := int(binary.BigEndian.Uint16(c[6:8]))
	if n < 4 || len(c) < 8+n || c[8]&0x1f != 7 {
		t.Fatalf("avcC SPS of %d bytes", n)
	}
	return bytes.Clone(c[8 : 8+n])
}

// scanForH264 returns every file under dir that holds an H.264 SPS NAL
// with a start code or the given SPS bytes anywhere (without start code,
// as in an MP4's avcC).
func scanForH264(t *testing.T, dir string, sps []byte, minFiles int) []string {
	t.Helper()
	// The 4-byte start code is matched with the SPS's profile byte after
	// the NAL header: 4 bytes alone turn up by chance in megabytes of
	// ciphertext about once in a thousand runs.
	needles := map[string][]byte{
		"00 00 00 01 67":      {0, 0, 0, 1, 0x67},
		"00 00 01 67 profile": {0, 0, 1, 0x67, sps[1]},
		"recorded SPS":        sps,
	}
	var hits []string
	var files int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for name, n := range needles {
			if i := bytes.Index(b, n); i >= 0 {
				hits = append(hits, fmt.Sprintf("%s: %s at %d", p, name, i))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < minFiles {
		t.Fatalf("scanned only %d files under %s", files, dir)
	}
	return hits
}

type exportState struct {
	ID, State, Error string
	Bytes            int64
}

func (a *apiClient) runExport(t *testing.T, grant string, from, to time.Time) exportState {
	t.Helper()
	var st exportState
	a.must("POST", "/api/v1/exports", map[string]any{"grant": grant, "camera": "cam1", "from": from, "to": to}, &st)
	for i := 0; i < 300 && st.State == "running"; i++ {
		time.Sleep(100 * time.Millisecond)
		a.must("GET", "/api/v1/exports/"+st.ID, nil, &st)
	}
	if st.State != "done" || st.Bytes <= 0 {
		t.Fatalf("export %s: %s %s (%d bytes)", st.ID, st.State, st.Error, st.Bytes)
	}
	return st
}

func jsonMessage(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
		t.Fatalf("status %d: not a JSON error: %s", resp.StatusCode, b)
	}
	return e.Error
}

// TestR17ExportsNeverInClearOnDisk (issue 13, R17, R32): the real daemon
// records, an operator exports under an approved grant over the LAN API.
// During the download (half read, paused) and after it, no file under the
// data dir holds an H.264 SPS (start code + NAL 7) or the recorded SPS
// bytes; the download has the right Content-Length, decodes with ffmpeg
// and has the manifest's frame count and duration. A flipped byte in the
// sealed export fails the download with one clear error (nothing sent,
// the export marked failed). An export the daemon could not erase (power
// loss) is deleted at the next start and listed as expired with the
// reason; its download says so (410).
func TestR17ExportsNeverInClearOnDisk(t *testing.T) {
	for _, tool := range []string{"ffprobe", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: run scripts/deps.sh", tool)
		}
	}
	data := filepath.Join(t.TempDir(), "dev")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-sealx}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: cam1
    name: Lobby
    source: "test://pattern?width=320&height=240&fps=15"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    keyframe_interval: 1s
lan: {listen: "127.0.0.1:18451"}
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-sealx", "--config", cfgPath); code != 0 {
		t.Fatal(errOut)
	}
	p := setupPeople(t, data)
	p.ps.Close()
	runCfg := filepath.Join(data, "edgerec.yaml")
	d := startTestDaemon(t, runCfg)
	stopped := false
	defer func() {
		if !stopped {
			d.stop(t)
		}
	}()
	recStart := time.Now()
	oscar, bob := newAPIClient(t, d.base), newAPIClient(t, d.base)
	oscar.must("POST", "/api/v1/login", map[string]string{"user": p.opName, "password": p.pwd}, nil)
	bob.must("POST", "/api/v1/login", map[string]string{"user": "bob", "password": p.pwd}, nil)
	time.Sleep(time.Until(recStart.Add(8 * time.Second)))
	from, to := recStart.Add(2*time.Second), time.Now().Add(-2*time.Second)
	var g struct{ ID string }
	oscar.must("POST", "/api/v1/grants", map[string]any{"action": string(grants.Export), "purpose": "incident 13", "cameras": []string{"cam1"},
		"from": from.Add(-time.Second), "to": to.Add(time.Second), "validity_hours": 1}, &g)
	bob.must("POST", "/api/v1/grants/"+g.ID+"/approve", map[string]any{}, nil)

	st := oscar.runExport(t, g.ID, from, to)
	sealedPath := filepath.Join(data, "exports", st.ID+".mp4.sealed")
	if fi, err := os.Stat(sealedPath); err != nil {
		t.Fatalf("sealed export: %v", err)
	} else if fi.Size() <= st.Bytes {
		t.Fatalf("sealed export: %d bytes on disk for %d of MP4", fi.Size(), st.Bytes)
	}

	// Download: half, pause and scan, then the rest.
	resp, err := oscar.c.Get(d.base + "/api/v1/exports/" + st.ID + "/mp4")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.ContentLength != st.Bytes || resp.Header.Get("Content-Length") != strconv.FormatInt(st.Bytes, 10) {
		t.Fatalf("download: %d, Content-Length %q, want %d", resp.StatusCode, resp.Header.Get("Content-Length"), st.Bytes)
	}
	half := make([]byte, st.Bytes/2)
	if _, err := io.ReadFull(resp.Body, half); err != nil {
		t.Fatal(err)
	}
	sps := spsOfMP4(t, half)
	// The scan finds the clear MP4 (it would prove nothing otherwise).
	clearDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(clearDir, "half.mp4"), half, 0o600); err != nil {
		t.Fatal(err)
	}
	if hits := scanForH264(t, clearDir, sps, 1); len(hits) == 0 {
		t.Fatal("the scan does not find the SPS in the clear MP4")
	}
	time.Sleep(300 * time.Millisecond)
	if hits := scanForH264(t, data, sps, 3); len(hits) > 0 {
		t.Fatalf("plaintext H.264 in the data dir during the download:\n%s", strings.Join(hits, "\n"))
	}
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("rest of the download: %v", err)
	}
	mp4 := append(half, rest...)
	if int64(len(mp4)) != st.Bytes {
		t.Fatalf("downloaded %d bytes, Content-Length %d", len(mp4), st.Bytes)
	}
	if hits := scanForH264(t, data, sps, 3); len(hits) > 0 {
		t.Fatalf("plaintext H.264 in the data dir after the download:\n%s", strings.Join(hits, "\n"))
	}

	// It is the export: the manifest verifies it, ffmpeg decodes it
	// without an error, frames and duration are the manifest's.
	var manifest []byte
	oscar.must("GET", "/api/v1/exports/"+st.ID+"/manifest", nil, &manifest)
	if bytes.Contains(manifest, sps) {
		t.Fatal("manifest holds the SPS")
	}
	m, err := export.Verify(manifest, bytes.NewReader(mp4))
	if err != nil {
		t.Fatalf("download does not verify against its manifest: %v", err)
	}
	out := filepath.Join(t.TempDir(), "x.mp4")
	if err := os.WriteFile(out, mp4, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("ffmpeg", "-v", "error", "-i", out, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(b)) > 0 {
		t.Fatalf("ffmpeg decode: %v\n%s", err, b)
	}
	kv := map[string]string{}
	pb, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
		"stream=codec_name,width,height,nb_read_frames:format=duration", "-of", "default=noprint_wrappers=1", out).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, pb)
	}
	for _, l := range strings.Split(string(pb), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = v
		}
	}
	frames, _ := strconv.Atoi(kv["nb_read_frames"])
	dur, _ := strconv.ParseFloat(kv["duration"], 64)
	if kv["codec_name"] != "h264" || kv["width"] != "320" || frames != m.Video.Frames || frames < 60 {
		t.Fatalf("ffprobe %v; manifest %d frames", kv, m.Video.Frames)
	}
	if diff := dur*1000 - float64(m.Video.DurationMS); diff < -100 || diff > 100 {
		t.Fatalf("duration %.3f s, manifest %d ms", dur, m.Video.DurationMS)
	}
	t.Logf("export %s: %d frames, %.2f s, %d bytes (sealed %d)", st.ID, frames, dur, st.Bytes, func() int64 { fi, _ := os.Stat(sealedPath); return fi.Size() }())

	// A flipped byte in the sealed file: one clear error, nothing sent,
	// the export is failed and erased.
	raw, err := os.ReadFile(sealedPath)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)*2/3] ^= 0x04
	if err := os.WriteFile(sealedPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err = oscar.c.Get(d.base + "/api/v1/exports/" + st.ID + "/mp4")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode < 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("tampered export: status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if msg := jsonMessage(t, resp); !strings.Contains(msg, "integrity check") || !strings.Contains(msg, "erased") {
		t.Fatalf("tampered export: message %q", msg)
	}
	var after exportState
	oscar.must("GET", "/api/v1/exports/"+st.ID, nil, &after)
	if after.State != "failed" || !strings.Contains(after.Error, "integrity check") {
		t.Fatalf("tampered export listed as %s %q", after.State, after.Error)
	}
	if _, err := os.Stat(sealedPath); err == nil {
		t.Fatal("tampered sealed file kept")
	}

	// Power loss: a second export's sealed file survives the stop (copied
	// back after the clean stop erased it); the next start deletes it and
	// lists the export as expired, with the reason.
	st2 := oscar.runExport(t, g.ID, from, to)
	keep := t.TempDir()
	for _, name := range []string{st2.ID + ".mp4.sealed", st2.ID + ".manifest.json"} {
		b, err := os.ReadFile(filepath.Join(data, "exports", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keep, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d.stop(t)
	stopped = true
	if ms, _ := filepath.Glob(filepath.Join(data, "exports", "*.mp4.sealed")); len(ms) > 0 {
		t.Fatalf("stop left sealed exports: %v", ms)
	}
	if hits := scanForH264(t, data, sps, 3); len(hits) > 0 {
		t.Fatalf("plaintext H.264 in the stopped device's data dir:\n%s", strings.Join(hits, "\n"))
	}
	for _, name := range []string{st2.ID + ".mp4.sealed", st2.ID + ".manifest.json"} {
		b, _ := os.ReadFile(filepath.Join(keep, name))
		if err := os.WriteFile(filepath.Join(data, "exports", name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d = startTestDaemon(t, runCfg)
	stopped = false
	if ms, _ := filepath.Glob(filepath.Join(data, "exports", "*")); len(ms) > 0 {
		t.Fatalf("start kept exports of the earlier run: %v", ms)
	}
	oscar = newAPIClient(t, d.base)
	oscar.must("POST", "/api/v1/login", map[string]string{"user": p.opName, "password": p.pwd}, nil)
	var list []exportState
	oscar.must("GET", "/api/v1/exports", nil, &list)
	var found bool
	for _, x := range list {
		if x.ID == st2.ID {
			found = true
			if x.State != "expired" || !strings.Contains(x.Error, "restarted") {
				t.Fatalf("export of the earlier run listed as %s %q", x.State, x.Error)
			}
		}
	}
	if !found {
		t.Fatalf("export of the earlier run not listed: %+v", list)
	}
	resp, err = oscar.c.Get(d.base + "/api/v1/exports/" + st2.ID + "/mp4")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("download of an expired export: %d", resp.StatusCode)
	}
	if msg := jsonMessage(t, resp); !strings.Contains(msg, "restarted") {
		t.Fatalf("download of an expired export: %q", msg)
	}
}
