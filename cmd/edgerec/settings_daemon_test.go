package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
)

// selfSigned is a certificate and its key (PEM) for the uplink upload.
func selfSigned(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

// TestDaemonSettings drives the real daemon's Settings API (issue 18): the
// installer uploads uplink TLS material (the key lands sealed in the
// vault, no PEM key anywhere in the data dir, restart needed), sets NTP
// servers (the time service's file beside the config) and lengthens a
// retention (live). After a restart the daemon opens the uplink with the
// sealed key (no uplink.config alert) and does not take the page's writes
// for an outside edit of edgerec.yaml (R16).
func TestDaemonSettings(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev")
	cfgIn := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-set}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: cam1
    source: "test://pattern?width=320&height=240&fps=10"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
lan: {listen: "127.0.0.1:18451"}
`
	if err := os.WriteFile(cfgIn, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-set", "--config", cfgIn)
	if code != 0 {
		t.Fatal(errOut)
	}
	setup := regexp.MustCompile(`setup code:\s+(\S+)`).FindStringSubmatch(out)
	cfgPath := filepath.Join(data, "edgerec.yaml")
	base, stop := daemonRun(t, cfgPath)

	const pw = "a long test password"
	const otp = "one-time from the admin"
	admin := newAPIClient(t, base)
	admin.must("POST", "/api/v1/setup", map[string]string{"code": setup[1], "user": "alice", "password": pw}, nil)
	var u struct{ ID string }
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

	// A real broker (mosquitto, client certificates required): the page
	// gets its CA and the device's client certificate and key.
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-settings", "edgerec/gw-set/#", false)
	read := func(p string) []byte {
		v, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ca, cert, key := read(b.Certs.CA), read(b.Certs.ClientCert), read(b.Certs.ClientKey)
	var res struct {
		Applied       string
		RestartNeeded bool `json:"restart_needed"`
	}
	// A key that is not the certificate's is refused and nothing is kept.
	_, rogueKey := selfSigned(t, "rogue")
	if st := ian.call("PUT", "/api/v1/settings/uplink", map[string]string{"broker": b.URL(), "ca_pem": string(ca), "cert_pem": string(cert), "key_pem": string(rogueKey)}, nil); st != http.StatusBadRequest {
		t.Fatalf("mismatched key: %d", st)
	}
	if _, err := os.Stat(filepath.Join(data, "uplink", "key.sealed")); err == nil {
		t.Fatal("a refused key was sealed")
	}
	ian.must("PUT", "/api/v1/settings/uplink", map[string]string{"broker": b.URL(), "ca_pem": string(ca), "cert_pem": string(cert), "key_pem": string(key)}, &res)
	if !res.RestartNeeded {
		t.Fatalf("uplink: %+v", res)
	}
	ian.must("PUT", "/api/v1/settings/ntp", map[string]any{"servers": []string{"ntp1.example.net"}}, &res)
	if b, _ := os.ReadFile(filepath.Join(data, "ntp-servers")); !strings.HasSuffix(string(b), "\nntp1.example.net\n") {
		t.Fatalf("ntp file %q", b)
	}
	ian.must("PUT", "/api/v1/settings/retention", map[string]string{"camera": "cam1", "retention": "60d"}, &res)
	if res.Applied != "live" {
		t.Fatalf("retention: %+v", res)
	}
	// The admin holds config.change, not network.manage.
	if st := admin.call("PUT", "/api/v1/settings/allowlist", map[string]any{"allowlist": []string{}}, nil); st != http.StatusForbidden {
		t.Fatalf("admin changing the allowlist: %d", st)
	}
	c, err := config.Load(cfgPath)
	if err != nil || c.Uplink == nil || c.Uplink.Key != "vault:uplink/key" || c.Cameras[0].Retention != config.Duration(60*24*time.Hour) {
		t.Fatalf("config: %v %+v", err, c)
	}
	keyDER, _ := pem.Decode(key)
	_ = filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("PRIVATE KEY")) || bytes.Contains(b, keyDER.Bytes) {
			t.Errorf("%s holds the uplink key in clear", p)
		}
		return nil
	})
	stop()

	base, stop = daemonRun(t, cfgPath)
	ian = newAPIClient(t, base)
	ian.must("POST", "/api/v1/login", map[string]string{"user": "ian", "password": pw}, nil)
	var health []byte
	ian.must("GET", "/api/v1/health", nil, &health)
	if strings.Contains(string(health), "uplink.config") || strings.Contains(string(health), "config.external") {
		t.Fatalf("after restart: %s", health)
	}
	stop()
	// The restarted daemon reaches the broker with the uploaded material.
	sub.Wait(t, 30*time.Second, "the device's status after the restart", func(ms []uplinktest.Message) bool {
		for _, m := range ms {
			if m.Topic == "edgerec/gw-set/status" || m.Topic == "edgerec/gw-set/beacon" {
				return true
			}
		}
		return false
	})
	for _, r := range auditOf(t, data) {
		if r.Action == "config.external_change" {
			t.Fatalf("the page's writes taken for an outside edit: %+v", r)
		}
	}
}
