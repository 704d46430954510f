package main

import (
	"crypto/sha256"
	"encoding/hex"
	"github.com/edgerec/edgerec/storage/keyprov"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/hal/tpm/swtpmtest"
	"github.com/edgerec/edgerec/storage"
)

// kpDirDigest maps every path under dir to its SHA-256 ("dir" for
// directories, the target for symlinks).
func kpDirDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out[rel] = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "-> " + l
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			out[rel] = hex.EncodeToString(sum[:])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kpDevice provisions a device with an uplink to b and the given
// provision flags; it returns the data dir, the config to run and the
// setup code.
func kpDevice(t *testing.T, b *uplinktest.Broker, id, storageExtra string, provArgs ...string) (data, cfgRun, setup string) {
	t.Helper()
	data = filepath.Join(t.TempDir(), "dev")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: ` + id + `}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms` + storageExtra + `}
lan: {listen: "127.0.0.1:18459"}
uplink: {broker: "` + b.URL() + `", ca: "` + b.Certs.CA + `", cert: "` + b.Certs.ClientCert + `", key: "` + b.Certs.ClientKey + `", beacon_interval: 5s}
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, append([]string{"provision", "--data", data, "--device-id", id, "--config", cfgPath}, provArgs...)...)
	if code != 0 {
		t.Fatalf("provision: %s", errOut)
	}
	m := regexp.MustCompile(`setup code:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no setup code:\n%s", out)
	}
	return data, filepath.Join(data, "edgerec.yaml"), m[1]
}

// kpHealth is the part of the health API these tests read.
type kpHealth struct {
	KeyProvider string `json:"key_provider"`
	Note        string `json:"key_provider_note"`
	Warning     string `json:"key_provider_warning"`
	Alerts      []struct {
		Code, Severity, Text string
	} `json:"alerts"`
}

func (h kpHealth) alert(code string) (sev, text string, ok bool) {
	for _, a := range h.Alerts {
		if a.Code == code {
			return a.Severity, a.Text, true
		}
	}
	return "", "", false
}

// kpHealthOf signs in as the first admin and reads /api/v1/health.
func kpHealthOf(t *testing.T, base, setup string) kpHealth {
	t.Helper()
	const pw = "a long test password"
	admin := newAPIClient(t, base)
	admin.must("POST", "/api/v1/setup", map[string]string{"code": setup, "user": "alice", "password": pw}, nil)
	admin.must("POST", "/api/v1/login", map[string]string{"user": "alice", "password": pw}, nil)
	var h kpHealth
	admin.must("GET", "/api/v1/health", nil, &h)
	return h
}

// kpLastBeacon waits for a beacon of device id and returns the newest.
func kpLastBeacon(t *testing.T, sub *uplinktest.Sub, id string, ok func(*wire.Beacon) bool) *wire.Beacon {
	t.Helper()
	var found *wire.Beacon
	sub.Wait(t, 30*time.Second, "a beacon from "+id, func(ms []uplinktest.Message) bool {
		_, _, bs := receivedAudits(t, ms)
		for i := len(bs) - 1; i >= 0; i-- {
			if bs[i].Device == id && ok(bs[i]) {
				found = bs[i]
				return true
			}
		}
		return false
	})
	return found
}

// Issue 13, R23, R32: a file-provider device says so everywhere: the health
// API reports key_provider "file" with the sentence as a standing warning
// (code keys.on_disk), and its beacons, through mosquitto, carry kp "file"
// and the keys.on_disk alert (code only, never the text, D6). The start
// log says it too. The same card under a config that asks for a TPM is
// refused with one ERROR line, never run on the file key.
func TestDaemonFileProviderReported(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-kp-file", "edgerec/gw-kpfile/#", true)
	data, cfgRun, setup := kpDevice(t, b, "gw-kpfile", "")
	d := startTestDaemon(t, cfgRun)
	h := kpHealthOf(t, d.base, setup)
	if h.KeyProvider != "file" || h.Warning != storage.FileProviderWarning || !strings.Contains(h.Note, storage.FileProviderWarning) {
		t.Fatalf("health: %+v", h)
	}
	if sev, text, ok := h.alert(health.AlertKeysOnDisk); !ok || sev != "warning" || text != "keys on disk: not protected against theft of the disk" {
		t.Fatalf("no standing file-provider warning: %+v", h.Alerts)
	}
	bc := kpLastBeacon(t, sub, "gw-kpfile", func(*wire.Beacon) bool { return true })
	if bc.KeyProvider != "file" {
		t.Fatalf("beacon kp %q, want file", bc.KeyProvider)
	}
	found := false
	for _, a := range bc.Alerts {
		found = found || (a.Code == health.AlertKeysOnDisk && a.Sev == wire.SevWarning)
	}
	if !found {
		t.Fatalf("beacon alerts %+v lack keys.on_disk", bc.Alerts)
	}
	for _, m := range sub.Messages() {
		if strings.Contains(string(m.Payload), "theft") {
			t.Fatalf("%s carries the alert text upstream", m.Topic)
		}
	}
	d.stop(t)
	if !strings.Contains(d.se.String(), "level=WARN msg=\"root key provider: file: keys on disk: not protected against theft of the disk\"") {
		t.Fatalf("the start log does not say it:\n%s", d.se.String())
	}
	if _, err := os.Stat(filepath.Join(data, keyprov.FaultFile)); err == nil {
		t.Fatal("a healthy start left a key fault record")
	}

	// The same card in a gateway configured for a TPM: refused, never a
	// fallback to the file key; one ERROR line naming both.
	raw, err := os.ReadFile(cfgRun)
	if err != nil {
		t.Fatal(err)
	}
	tpmCfg := filepath.Join(t.TempDir(), "tpm.yaml")
	if err := os.WriteFile(tpmCfg, []byte(strings.Replace(string(raw), "key_provider: file", "key_provider: tpm2", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "run", "--config", tpmCfg, "--listen", "127.0.0.1:0")
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], "root key") ||
		!strings.Contains(lines[0], "provider=file") || !strings.Contains(lines[0], "storage.key_provider: tpm2") || strings.Contains(out, "LAN page") {
		t.Fatalf("provider mismatch: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if rec, ok := keyprov.ReadFault(data); !ok || rec.Count != 1 || rec.Provider != "file" {
		t.Fatalf("key fault record %+v %v", rec, ok)
	}
}

// Issue 13, R24, R32, with swtpm as the TPM: a tpm2 device reports "tpm2"
// (health API and beacon) and no file warning. With the TPM gone, and then
// with another TPM on the same socket, `run` refuses to record: exit 1,
// exactly one line on stderr, at ERROR, naming the root key, the provider
// and the cause; no file in the data dir is created or changed except the
// key fault record. Back on its own TPM the device starts, and the refusals
// reach upstream as one keys.unavailable event (code tpm2, n 2) and the
// audit log as one keys.unavailable record; the record file is gone.
func TestDaemonTPM2ProviderAndKeyFault(t *testing.T) {
	tp := swtpmtest.New(t)
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-kp-tpm", "edgerec/gw-kptpm/#", true)
	data, cfgRun, setup := kpDevice(t, b, "gw-kptpm", `, tpm: "unix:`+tp.Sock()+`"`, "--key-provider", "tpm2")
	if p, err := storage.ReadProvider(data); err != nil || p != storage.ProviderTPM2 {
		t.Fatalf("provisioned provider %v %v", p, err)
	}
	d := startTestDaemon(t, cfgRun)
	h := kpHealthOf(t, d.base, setup)
	if h.KeyProvider != "tpm2" || h.Warning != "" || strings.Contains(h.Note, "theft") {
		t.Fatalf("health: %+v", h)
	}
	if _, _, ok := h.alert(health.AlertKeysOnDisk); ok {
		t.Fatalf("tpm2 device carries the file warning: %+v", h.Alerts)
	}
	bc := kpLastBeacon(t, sub, "gw-kptpm", func(*wire.Beacon) bool { return true })
	if bc.KeyProvider != "tpm2" {
		t.Fatalf("beacon kp %q, want tpm2", bc.KeyProvider)
	}
	for _, a := range bc.Alerts {
		if a.Code == health.AlertKeysOnDisk {
			t.Fatalf("tpm2 beacon carries keys.on_disk: %+v", bc.Alerts)
		}
	}
	d.stop(t)
	m := regexp.MustCompile(`msg="root key loaded" provider=tpm2 open_ms=(\d+)`).FindStringSubmatch(d.se.String())
	if m == nil {
		t.Fatalf("the start log does not name the provider:\n%s", d.se.String())
	}
	t.Logf("store open with the root key unsealed by swtpm: %s ms", m[1])

	refused := func(what string) string {
		t.Helper()
		before := kpDirDigest(t, data)
		delete(before, keyprov.FaultFile)
		start := time.Now()
		code, out, errOut := runCLI(t, "run", "--config", cfgRun, "--listen", "127.0.0.1:0")
		t.Logf("%s: exit %d after %s: %s", what, code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(errOut))
		if code != 1 {
			t.Fatalf("%s: exit %d, want 1\nstdout: %s\nstderr: %s", what, code, out, errOut)
		}
		lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], "root key") ||
			!strings.Contains(lines[0], "provider=tpm2") || !strings.Contains(lines[0], "cause=") {
			t.Fatalf("%s: want exactly one ERROR line naming the root key, the provider and the cause; stderr:\n%s", what, errOut)
		}
		if strings.Contains(out, "LAN page") || strings.Contains(out, "recording") {
			t.Fatalf("%s: recording started: %s", what, out)
		}
		after := kpDirDigest(t, data)
		if _, ok := after[keyprov.FaultFile]; !ok {
			t.Fatalf("%s: no key fault record", what)
		}
		delete(after, keyprov.FaultFile)
		for p, h := range before {
			if after[p] != h {
				t.Errorf("%s: %s changed (%s -> %s)", what, p, h, after[p])
			}
		}
		for p := range after {
			if _, ok := before[p]; !ok {
				t.Errorf("%s: %s created", what, p)
			}
		}
		return lines[0]
	}
	// 1. No TPM answering.
	tp.Stop()
	line := refused("TPM gone")
	if !strings.Contains(line, tp.Sock()) && !strings.Contains(strings.ToLower(line), "tpm") {
		t.Fatalf("the cause does not say what failed: %s", line)
	}
	// 2. Another TPM (fresh seeds) on the same socket.
	own, fresh := tp.State(), filepath.Join(filepath.Dir(tp.State()), "other-chip")
	if err := os.Mkdir(fresh, 0o700); err != nil {
		t.Fatal(err)
	}
	tp.SetState(fresh)
	tp.Start()
	refused("another TPM")
	tp.Stop()
	tp.SetState(own)
	rec, ok := keyprov.ReadFault(data)
	if !ok || rec.Count != 2 || rec.Provider != "tpm2" || rec.First.After(rec.Last) {
		t.Fatalf("key fault record %+v", rec)
	}

	// 3. Its own TPM again: starts, reports the refusals once.
	tp.Start()
	d = startTestDaemon(t, cfgRun)
	ms := sub.Wait(t, 30*time.Second, "a keys.unavailable event", func(ms []uplinktest.Message) bool {
		_, evs, _ := receivedAudits(t, ms)
		for _, e := range evs {
			if e.Kind == wire.EvKeysUnavailable {
				return true
			}
		}
		return false
	})
	d.stop(t)
	_, evs, _ := receivedAudits(t, ms)
	var n int
	for _, e := range evs {
		if e.Kind != wire.EvKeysUnavailable {
			continue
		}
		n++
		if e.Code != "tpm2" || e.Count != 2 || e.Sev != wire.SevCritical || e.Time != rec.First.UnixMilli() || e.Value != rec.Last.UnixMilli() {
			t.Fatalf("keys.unavailable event %+v, record %+v", e, rec)
		}
	}
	if n != 1 {
		t.Fatalf("%d keys.unavailable events, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(data, keyprov.FaultFile)); err == nil {
		t.Fatal("the key fault record survived the report")
	}
	audits := 0
	for _, r := range auditOf(t, data) {
		if r.Action == "keys.unavailable" {
			audits++
			if !strings.Contains(r.Detail, "tpm2") || !strings.Contains(r.Detail, "2 start(s)") {
				t.Fatalf("audit detail %q", r.Detail)
			}
		}
	}
	if audits != 1 {
		t.Fatalf("%d keys.unavailable audit records, want 1", audits)
	}
}

// kpLEDPin is a fake status LED that counts its switches.
