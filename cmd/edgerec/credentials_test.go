package main

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/source/rtsprig"
	"github.com/edgerec/edgerec/storage"
)

const camPassword = "S3cret-Pa55"

// grepDataDir fails the test for every file under dir whose raw bytes hold
// needle (the stolen-card check for what this change owns).
func grepDataDir(t *testing.T, dir, needle string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if bytes.Contains(b, []byte(needle)) {
			t.Errorf("%s holds the camera password in clear", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("only %d files under %s", n, dir)
	}
}

// daemonRunLog is daemonRun that also hands back the daemon's log.
func daemonRunLog(t *testing.T, cfgPath string) (string, *syncBuf, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var so syncBuf
	se := &syncBuf{}
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, &env{stdout: &so, stderr: se, getenv: func(string) string { return "" }}, []string{"run", "--config", cfgPath, "--listen", "127.0.0.1:0"})
	}()
	var base string
	for i := 0; i < 150 && base == ""; i++ {
		if m := regexp.MustCompile(`LAN page:\s+(https://\S+)/`).FindStringSubmatch(so.String()); m != nil {
			base = m[1]
		}
		time.Sleep(100 * time.Millisecond)
	}
	if base == "" {
		cancel()
		t.Fatalf("daemon did not start:\n%s\n%s", so.String(), se.String())
	}
	return base, se, func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("daemon exit %d: %s", code, se.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("daemon did not stop")
		}
	}
}

type camHealth struct {
	Cameras []struct{ ID, State, Reason string }
}

// waitCameras polls the health API until every camera in want has that
// state, and returns the last answer.
func waitCameras(t *testing.T, c *apiClient, want map[string]string) camHealth {
	t.Helper()
	var h camHealth
	for range 100 {
		h = camHealth{}
		c.must("GET", "/api/v1/health", nil, &h)
		ok := 0
		for _, cam := range h.Cameras {
			if want[cam.ID] == cam.State {
				ok++
			}
		}
		if ok == len(want) {
			return h
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("camera states %+v, want %v", h.Cameras, want)
	return h
}

func segmentCount(t *testing.T, data, cam string) int {
	t.Helper()
	st, err := storage.Open(context.Background(), data, storage.Options{Keys: dirKeys(data, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	segs, err := st.Segments(context.Background(), cam, time.Time{}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return len(segs)
}

// TestR32CameraPasswordsSealed: camera passwords never sit in clear in the
// data dir (issue 13, R32). provision --config moves the inline password
// of an RTSP camera into the vault and writes a reference; the daemon
// records from a real RTSP server that requires that password. A camera
// added on the LAN page with a password in its source URL: the password is
// sealed, the API never shows it. A hand edit that puts a password back
// inline is reported once as an outside edit (R16), moved into the vault
// at start (audited, no coverage change) and the rewritten file is the
// device's own. A reference whose vault item is missing: that camera is
// refused with one error naming it and the reference, the others record.
// After all of it, no file of the data dir holds the password.
func TestR32CameraPasswordsSealed(t *testing.T) {
	rig, err := rtsprig.StartAuth("127.0.0.1:0", "admin", camPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer rig.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub, err := rig.Publish(ctx, "cam", rtsprig.FFmpegArgs("320x240", 10))
	if err != nil {
		t.Skipf("rtsp rig: %v", err)
	}
	defer pub.Stop()
	camURL := rig.URL("cam") // rtsp://admin:S3cret-Pa55@127.0.0.1:PORT/cam
	if !strings.Contains(camURL, camPassword) {
		t.Fatalf("rig URL %s", camURL)
	}

	data := filepath.Join(t.TempDir(), "dev")
	cfgIn := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-seal}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: cam1
    source: "` + camURL + `?transport=tcp"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
  - id: cam2
    source: "test://pattern?width=320&height=240&fps=10"
    zone: corridor
    signage: {attested_by: "A. Installer", date: 2026-11-27}
lan: {listen: "127.0.0.1:18450"}
`
	if err := os.WriteFile(cfgIn, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-seal", "--config", cfgIn)
	if code != 0 {
		t.Fatal(errOut)
	}
	if !strings.Contains(errOut, "camera passwords: 1 moved into the vault") || strings.Contains(out+errOut, camPassword) {
		t.Fatalf("provision output:\n%s\n%s", out, errOut)
	}
	grepDataDir(t, data, camPassword)
	cfgPath := filepath.Join(data, "edgerec.yaml")
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cameras[0].Credential != "vault:camera/cam1/password" || !strings.HasPrefix(string(c.Cameras[0].Source), "rtsp://admin@127.0.0.1:") || c.Cameras[1].Credential != "" {
		t.Fatalf("provisioned cameras: %+v", c.Cameras)
	}
	if _, err := os.Stat(filepath.Join(data, "vault", "camera", "cam1", "password")); err != nil {
		t.Fatal(err)
	}

	// The daemon records from the camera that requires the password.
	base, logs, stop := daemonRunLog(t, cfgPath)
	setup := regexp.MustCompile(`setup code:\s+(\S+)`).FindStringSubmatch(out)
	const pw = "a long test password"
	admin := newAPIClient(t, base)
	admin.must("POST", "/api/v1/setup", map[string]string{"code": setup[1], "user": "alice", "password": pw}, nil)
	var u struct{ ID string }
	const otp = "one-time from the admin"
	admin.must("POST", "/api/v1/users", map[string]string{"user": "bob", "password": otp}, &u)
	admin.must("POST", "/api/v1/users/"+u.ID+"/role", map[string]any{"role": "approver", "purpose": "staff", "validity_days": 30}, nil)
	admin.must("POST", "/api/v1/users", map[string]string{"user": "ian", "password": otp}, &u)
	var rg struct{ ID string }
	admin.must("POST", "/api/v1/users/"+u.ID+"/role", map[string]any{"role": "installer", "purpose": "staff", "validity_days": 30}, &rg)
	bob := newAPIClient(t, base)
	bob.must("POST", "/api/v1/login", map[string]string{"user": "bob", "password": otp}, nil)
	bob.must("POST", "/api/v1/account/password", map[string]string{"old": otp, "password": pw}, nil)
	bob.must("POST", "/api/v1/grants/"+rg.ID+"/approve", map[string]any{}, nil)
	ian := newAPIClient(t, base)
	ian.must("POST", "/api/v1/login", map[string]string{"user": "ian", "password": otp}, nil)
	ian.must("POST", "/api/v1/account/password", map[string]string{"old": otp, "password": pw}, nil)
	waitCameras(t, ian, map[string]string{"cam1": "recording", "cam2": "recording"})

	// The LAN page adds a camera with the password in its source URL.
	var added []byte
	ian.must("POST", "/api/v1/cameras", map[string]any{"id": "cam3", "name": "Back door", "source": camURL,
		"zone": "entrance", "signage_by": "A. Installer", "signage_date": "2026-11-27"}, &added)
	waitCameras(t, ian, map[string]string{"cam1": "recording", "cam2": "recording", "cam3": "recording"})
	var cams, health, backup []byte
	ian.must("GET", "/api/v1/cameras", nil, &cams)
	ian.must("GET", "/api/v1/health", nil, &health)
	admin.must("GET", "/api/v1/backup", nil, &backup)
	for what, b := range map[string][]byte{"add answer": added, "camera list": cams, "health": health, "backup": backup} {
		if bytes.Contains(b, []byte(camPassword)) {
			t.Errorf("%s shows the camera password: %s", what, b)
		}
	}
	if c, err = config.Load(cfgPath); err != nil || len(c.Cameras) != 3 || c.Cameras[2].Credential != "vault:camera/cam3/password" {
		t.Fatalf("config after the LAN page added cam3: %v %+v", err, c)
	}
	// A source change typed with its password waits for approval (R27):
	// the proposal on disk holds the password sealed, never in clear.
	var p struct{ Kind, Request string }
	if st := ian.call("PUT", "/api/v1/cameras/cam3", map[string]any{"name": "Back door", "source": camURL + "?transport=tcp",
		"zone": "entrance", "signage_by": "A. Installer", "signage_date": "2026-11-27"}, &p); st != http.StatusAccepted || p.Kind != "source_change" {
		t.Fatalf("source change: %d %+v", st, p)
	}
	grepDataDir(t, data, camPassword)
	bob.must("POST", "/api/v1/grants/"+p.Request+"/approve", map[string]any{}, nil)
	if c, err = config.Load(cfgPath); err != nil || !strings.HasSuffix(string(c.Cameras[2].Source), "/cam?transport=tcp") || c.Cameras[2].Credential != "vault:camera/cam3/password" {
		t.Fatalf("config after the approved source change: %v %+v", err, c)
	}
	waitCameras(t, ian, map[string]string{"cam1": "recording", "cam2": "recording", "cam3": "recording"})
	time.Sleep(2 * time.Second)
	stop()
	grepDataDir(t, data, camPassword)
	if strings.Contains(logs.String(), camPassword) {
		t.Errorf("the daemon logged the camera password:\n%s", logs.String())
	}
	for _, cam := range []string{"cam1", "cam2", "cam3"} {
		if segmentCount(t, data, cam) == 0 {
			t.Errorf("%s recorded nothing", cam)
		}
	}

	// By hand: cam1's password inline again (as a technician would after
	// changing it on the camera), and cam4 refers to a vault item that
	// does not exist.
	raw := string(mustRead(t, cfgPath))
	if strings.Count(raw, "rtsp://admin@") != 2 {
		t.Fatalf("config before the hand edit:\n%s", raw)
	}
	raw = strings.Replace(raw, "rtsp://admin@", "rtsp://admin:"+camPassword+"@", 1)
	raw = strings.Replace(raw, "\nlan:", `
  - id: cam4
    source: "rtsp://admin@`+rig.Addr()+`/cam"
    credential: "vault:camera/cam4/password"
    zone: corridor
    signage: {attested_by: "A. Installer", date: 2026-11-27}
lan:`, 1)
	if err := os.WriteFile(cfgPath, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	segs1 := segmentCount(t, data, "cam1")
	base, logs, stop = daemonRunLog(t, cfgPath)
	ian = newAPIClient(t, base)
	ian.must("POST", "/api/v1/login", map[string]string{"user": "ian", "password": pw}, nil)
	h := waitCameras(t, ian, map[string]string{"cam1": "recording", "cam2": "recording", "cam3": "recording", "cam4": "refused"})
	for _, cam := range h.Cameras {
		if cam.ID == "cam4" && !strings.Contains(cam.Reason, "camera cam4: credential vault:camera/cam4/password: no such item in the vault") {
			t.Errorf("cam4 refusal reason %q", cam.Reason)
		}
	}
	time.Sleep(2 * time.Second)
	stop()
	if segmentCount(t, data, "cam1") <= segs1 {
		t.Error("cam1 did not record after its password was moved at start")
	}
	if segmentCount(t, data, "cam4") != 0 {
		t.Error("cam4 recorded without its password")
	}
	if n := strings.Count(logs.String(), "camera cam4: credential vault:camera/cam4/password"); n == 0 {
		t.Errorf("no error naming cam4 and its credential in the log:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), camPassword) {
		t.Errorf("the daemon logged the camera password:\n%s", logs.String())
	}
	grepDataDir(t, data, camPassword)
	if c, err = config.Load(cfgPath); err != nil || c.Cameras[0].Credential != "vault:camera/cam1/password" || c.Cameras[0].InlinePassword() {
		t.Fatalf("config after the move: %v %+v", err, c)
	}

	// Unchanged since the daemon rewrote it: not an outside edit again.
	_, _, stop = daemonRunLog(t, cfgPath)
	stop()
	var external, sealed, refused []string
	coverage := 0
	for _, r := range auditOf(t, data) {
		switch r.Action {
		case "config.external_change":
			external = append(external, r.Detail)
		case "camera.credential_sealed":
			sealed = append(sealed, r.Target+" "+r.Detail)
		case "camera.refuse":
			refused = append(refused, r.Target+" "+r.Detail)
		}
		if strings.HasPrefix(r.Action, "coverage.") && r.Target == "cam1" {
			coverage++
		}
	}
	if len(external) != 1 || !strings.Contains(external[0], "added=cam4") || !strings.Contains(external[0], "changed=cam1") {
		t.Errorf("config.external_change records: %q", external)
	}
	if len(sealed) != 1 || !strings.HasPrefix(sealed[0], "cam1 ") {
		t.Errorf("camera.credential_sealed records: %q", sealed)
	}
	if len(refused) != 2 || !strings.HasPrefix(refused[0], "cam4 credential vault:camera/cam4/password") {
		t.Errorf("camera.refuse records: %q", refused)
	}
	if coverage != 0 {
		t.Errorf("%d coverage records for a password move", coverage)
	}
}
