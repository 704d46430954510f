package main

import (
	"bytes"
	"context"
	"errors"
	"github.com/edgerec/edgerec/storage/keyprov"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/source/rtsprig"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/hal/tpm"
	"github.com/edgerec/edgerec/hal/tpm/swtpmtest"
	"github.com/edgerec/edgerec/storage"
)

// spsOf returns the first SPS NAL (without its start code) in an Annex-B
// access unit.
func spsOf(au []byte) []byte {
	for i := 0; i+4 < len(au); i++ {
		if au[i] == 0 && au[i+1] == 0 && au[i+2] == 1 && au[i+3]&0x1f == 7 {
			end := bytes.Index(au[i+3:], []byte{0, 0, 1})
			if end < 0 {
				return au[i+3:]
			}
			return bytes.TrimRight(au[i+3:i+3+end], "\x00")
		}
	}
	return nil
}

// grepDir returns the files under dir that contain needle.
func grepDir(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, needle) {
			rel, _ := filepath.Rel(dir, p)
			hits = append(hits, rel)
		}
		return nil
	})
	return hits
}

// The stolen-card test (issue 13, R32, R5): a gateway provisioned with its
// root key in a TPM (swtpm) records a real RTSP camera that needs a
// password, with an uplink (mutual TLS) and users; then, stopped, its whole
// data dir is copied — the thief's image of the card. In the copy there is
// no RTSP password, no PEM block, no argon2 string, no setup code and no
// H.264 SPS of the recorded stream; opened with another TPM it is refused
// and nothing decrypts; with the gateway's own TPM it plays back.
func TestR32StolenCardYieldsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts swtpm, mosquitto, an RTSP server and the daemon")
	}
	const rtspPass = "S3cret-Pa55-rtsp"
	sw := swtpmtest.New(t)
	srv, err := rtsprig.StartAuth("127.0.0.1:0", "cam-admin", rtspPass)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	pub, err := srv.Publish(context.Background(), "cam", rtsprig.FFmpegArgs("640x360", 15))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Stop()
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-stolen", "edgerec/gw-stolen/#", false)

	data := filepath.Join(t.TempDir(), "dev")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	url := srv.URL("cam") // rtsp://cam-admin:PASSWORD@127.0.0.1:PORT/cam
	body := `device: {id: gw-stolen}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms, key_provider: tpm2, tpm: "` + sw.Spec() + `"}
cameras:
  - id: doorcam
    source: "` + url + `"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
lan: {listen: "127.0.0.1:18452"}
uplink: {broker: "` + b.URL() + `", ca: "` + b.Certs.CA + `", cert: "` + b.Certs.ClientCert + `", key: "` + b.Certs.ClientKey + `", username: gw-stolen, password: "Mqtt-S3cret-pw", beacon_interval: 5s}
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-stolen", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("provision: %s", errOut)
	}
	setup := regexp.MustCompile(`setup code:\s+(\S+)`).FindStringSubmatch(out)
	if setup == nil {
		t.Fatalf("no setup code:\n%s", out)
	}
	if !strings.Contains(out, "root key:     tpm2") {
		t.Fatalf("provision output does not name the provider:\n%s", out)
	}

	d := startTestDaemon(t, filepath.Join(data, "edgerec.yaml"))
	const pw = "a long test password"
	admin := newAPIClient(t, d.base)
	admin.must("POST", "/api/v1/setup", map[string]string{"code": setup[1], "user": "alice", "password": pw}, nil)
	admin.must("POST", "/api/v1/login", map[string]string{"user": "alice", "password": pw}, nil)
	admin.must("POST", "/api/v1/users", map[string]string{"user": "bob", "password": pw}, nil)
	time.Sleep(6 * time.Second) // a few seconds of footage
	d.stop(t)
	// The uplink came up with the sealed client key and MQTT password.
	if len(sub.Messages()) == 0 {
		t.Fatalf("nothing arrived upstream: the sealed uplink key/password did not work\n%s", d.se.String())
	}

	// Plays back with the gateway's own TPM; the SPS is what the thief
	// must not find.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ks := keyprov.Settings{TPM: sw.Spec()}
	st, err := storage.Open(ctx, data, storage.Options{Keys: keyprov.Providers(data, ks, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var sps []byte
	frames := 0
	err = st.ReadFrames(ctx, "doorcam", time.Now().Add(-time.Hour), time.Now(), func(f storage.Frame) error {
		frames++
		if sps == nil && f.Key {
			sps = spsOf(f.Data)
		}
		return nil
	})
	st.Close()
	if err != nil || frames < 15 || len(sps) < 4 {
		t.Fatalf("recorded %d frames, sps %x, %v\n%s", frames, sps, err, d.se.String())
	}

	stolen := filepath.Join(t.TempDir(), "stolen")
	if out, err := exec.Command("cp", "-a", data, stolen).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	for what, needle := range map[string][]byte{
		"the RTSP password": []byte(rtspPass),
		"the MQTT password": []byte("Mqtt-S3cret-pw"),
		"a PEM block":       []byte("-----BEGIN"),
		"an argon2 string":  []byte("$argon2"),
		"the setup code":    []byte(setup[1]),
		"the recorded SPS":  sps,
	} {
		if hits := grepDir(t, stolen, needle); len(hits) > 0 {
			t.Errorf("the copy of the card holds %s in %v", what, hits)
		}
	}

	other := swtpmtest.New(t)
	_, err = storage.Open(ctx, stolen, storage.Options{Keys: keyprov.Providers(stolen, keyprov.Settings{TPM: other.Spec()}, nil)})
	if !errors.Is(err, storage.ErrKeyUnavailable) || !errors.Is(err, tpm.ErrOtherTPM) {
		t.Fatalf("the copy in another TPM: %v", err)
	}
	// The copy's config names the gateway's TPM socket; the gateway's TPM
	// is not in the thief's machine.
	sw.Stop()
	code, _, errOut = runCLI(t, "check", "--data", stolen)
	if code == 0 || !strings.Contains(errOut, "root key unavailable") {
		t.Fatalf("check on the copy without the gateway's TPM: exit %d: %s", code, errOut)
	}
	t.Logf("check on the copy (no TPM): %s", strings.TrimSpace(errOut))
}
