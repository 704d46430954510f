package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/storage"
)

// filesHolding returns the files under dir whose raw bytes contain needle.
func filesHolding(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// noSecretsAt fails for every needle found in a file under dir.
func noSecretsAt(t *testing.T, dir string, needles map[string][]byte) {
	t.Helper()
	for what, n := range needles {
		if len(n) == 0 {
			t.Fatalf("test bug: empty needle %s", what)
		}
		var hits []string
		for _, h := range filesHolding(t, dir, n) {
			// The device signing key is sealed by its own change
			// (policy/devkey); the lead's stolen-card test covers all.
			if h != devkey.PrivateFile && h != devkey.PublicFile {
				hits = append(hits, h)
			}
		}
		if len(hits) > 0 {
			t.Errorf("%s found at rest in %v", what, hits)
		}
	}
}

// serverFingerprint is the SHA-256 (colon hex) of the certificate the LAN
// page presents in the TLS handshake.
func serverFingerprint(t *testing.T, base string) string {
	t.Helper()
	c, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// R32, R20, R19 (issue 13): `provision --config` seals the uplink client
// key named by path (uplink/key) and installs uplink.key as a vault
// reference; the TLS key (tls/key) and the camera-id key (uplink/idkey) are
// sealed too. No file of the data dir holds a PEM block or any of the three
// keys, before or after a run. The daemon serves HTTPS with the certificate
// whose fingerprint provisioning printed, and connects to mosquitto with
// mutual TLS using the key it opened from the vault. A plain key path still
// works, with a warning that the key is not sealed.
func TestR32ProvisionSealsTLSAndUplinkKeys(t *testing.T) {
	b := uplinktest.StartBroker(t)
	sub := b.Subscribe(t, "ops-seal", "edgerec/gw-seal/#", false)
	data := filepath.Join(t.TempDir(), "dev")
	clientKeyPEM, err := os.ReadFile(b.Certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(clientKeyPEM)
	clientKeyDER := blk.Bytes
	// As the installer's bundle does: the key file lies in the data dir.
	if err := os.MkdirAll(filepath.Join(data, "uplink"), 0o700); err != nil {
		t.Fatal(err)
	}
	keyInData := filepath.Join(data, "uplink", "key.pem")
	if err := os.WriteFile(keyInData, clientKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-seal}
storage: {data_dir: "` + data + `", ring_size: 32MiB}
cameras: []
uplink: {broker: "` + b.URL() + `", ca: "` + b.Certs.CA + `", cert: "` + b.Certs.ClientCert + `", key: "` + keyInData + `", beacon_interval: 5s}
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-seal", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("provision: %s", errOut)
	}
	m := regexp.MustCompile(`TLS cert:\s+SHA-256 (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no TLS fingerprint:\n%s", out)
	}
	fp := m[1]
	cfgRun := filepath.Join(data, "edgerec.yaml")
	installed, _ := os.ReadFile(cfgRun)
	if !strings.Contains(string(installed), "key: vault:uplink/key") || strings.Contains(string(installed), keyInData) {
		t.Fatalf("installed config does not refer to the sealed key:\n%s", installed)
	}
	if _, err := os.Stat(keyInData); !os.IsNotExist(err) {
		t.Errorf("the plain key file in the data dir was not removed: %v", err)
	}
	vault, err := storage.OpenVault(context.Background(), data, dirKeys(data, nil))
	if err != nil {
		t.Fatal(err)
	}
	sealedTLS, err := os.ReadFile(filepath.Join(data, "tls", "key.sealed"))
	if err != nil {
		t.Fatal(err)
	}
	tlsDER, err := vault.Open("tls/key", sealedTLS)
	if err != nil {
		t.Fatal(err)
	}
	tlsKey, err := x509.ParsePKCS8PrivateKey(tlsDER)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{
		"PEM block":              []byte("-----BEGIN"),
		"uplink client key PEM":  clientKeyPEM,
		"uplink client key DER":  clientKeyDER,
		"TLS key (PKCS#8)":       tlsDER,
		"TLS key (scalar)":       tlsKey.(*ecdsa.PrivateKey).D.FillBytes(make([]byte, 32)),
		"uplink client key body": clientKeyPEM[30:90],
	}
	noSecretsAt(t, data, secrets)

	d := startTestDaemon(t, cfgRun)
	if got := serverFingerprint(t, d.base); got != fp {
		t.Errorf("LAN page presents %s, provisioning printed %s", got, fp)
	}
	sub.Wait(t, 20*time.Second, "status online over mutual TLS with the sealed key", func(ms []uplinktest.Message) bool {
		for _, m := range ms {
			if m.Topic == "edgerec/gw-seal/status" && bytes.Contains(m.Payload, []byte("online")) {
				return true
			}
		}
		return false
	})
	d.stop(t)
	if strings.Contains(d.se.String(), "NOT sealed") || strings.Contains(d.se.String(), "uplink disabled") {
		t.Errorf("daemon log:\n%s", d.se.String())
	}
	idSealed, err := os.ReadFile(uplink.KeyPath(data))
	if err != nil {
		t.Fatal(err)
	}
	idKey, err := vault.Open(uplink.VaultIDKey, idSealed)
	if err != nil || len(idKey) != uplink.KeySize {
		t.Fatalf("camera-id key: %v", err)
	}
	secrets["camera-id key"] = idKey
	noSecretsAt(t, data, secrets)

	// A plain path still works; the daemon says the key is not sealed.
	plain := filepath.Join(t.TempDir(), "client.key")
	if err := os.WriteFile(plain, clientKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgRun, bytes.Replace(installed, []byte("vault:uplink/key"), []byte(plain), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	n := len(sub.Messages())
	d = startTestDaemon(t, cfgRun)
	sub.Wait(t, 20*time.Second, "status online again with the plain key", func(ms []uplinktest.Message) bool {
		for _, m := range ms[n:] {
			if m.Topic == "edgerec/gw-seal/status" && bytes.Contains(m.Payload, []byte("online")) {
				return true
			}
		}
		return false
	})
	d.stop(t)
	if !strings.Contains(d.se.String(), "NOT sealed") {
		t.Errorf("no warning for the plain key:\n%s", d.se.String())
	}
}

// R32 (issue 13), bad input: a config that names a vault reference for a
// new device, a malformed reference, or a key that does not pair with the
// certificate is one clear error and provisions nothing.
func TestR32ProvisionRefusesBadUplinkKey(t *testing.T) {
	certs := uplinktest.NewCerts(t, t.TempDir())
	for _, tc := range []struct{ name, key, want string }{
		{"reference on a new device", "vault:uplink/key", "nothing sealed yet"},
		{"malformed reference", "vault:../root", "not a vault reference"},
		{"key of another certificate", certs.RogueKey, "private key does not match public key"},
		{"not a key", certs.CA, "uplink.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "dev")
			cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
			body := `device: {id: gw-bad}
storage: {data_dir: "` + data + `", ring_size: 32MiB}
cameras: []
uplink: {broker: "mqtts://127.0.0.1:1", ca: "` + certs.CA + `", cert: "` + certs.ClientCert + `", key: "` + tc.key + `"}
`
			if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-bad", "--config", cfgPath)
			if code == 0 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Fatalf("exit %d, stderr %q; want one line with %q", code, errOut, tc.want)
			}
			if _, err := os.Stat(filepath.Join(data, storage.RingFile)); !os.IsNotExist(err) {
				t.Errorf("a ring was provisioned: %v", err)
			}
		})
	}
}

// R32, R20 (issue 13): a TLS key sealed under another device's vault (a
// data dir put together from two cards) stops the start with one clear
// error; the sealed key is not replaced.
func TestR32TLSKeyOfAnotherDeviceStopsStart(t *testing.T) {
	var dirs [2]string
	for i, id := range []string{"gw-one", "gw-two"} {
		dirs[i] = filepath.Join(t.TempDir(), id)
		if code, _, errOut := runCLI(t, "provision", "--data", dirs[i], "--device-id", id, "--ring-size", "32MiB"); code != 0 {
			t.Fatalf("provision %s: %s", id, errOut)
		}
	}
	foreign, err := os.ReadFile(filepath.Join(dirs[0], "tls", "key.sealed"))
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dirs[1], "tls", "key.sealed")
	if err := os.WriteFile(keyPath, foreign, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var o, e syncBuf
	code := dispatch(ctx, &env{stdout: &o, stderr: &e, getenv: func(string) string { return "" }},
		[]string{"run", "--config", filepath.Join(dirs[1], "edgerec.yaml"), "--listen", "127.0.0.1:0"})
	if code == 0 || ctx.Err() != nil {
		t.Fatalf("run with another device's TLS key: exit %d (ctx %v)\n%s", code, ctx.Err(), e.String())
	}
	if !strings.Contains(e.String(), "another device") || !strings.Contains(e.String(), "key.sealed") {
		t.Errorf("error does not say what is wrong:\n%s", e.String())
	}
	t.Logf("stderr: %s", e.String())
	if strings.Contains(o.String(), "LAN page:") {
		t.Error("the LAN page started")
	}
	if after, _ := os.ReadFile(keyPath); !bytes.Equal(after, foreign) {
		t.Error("the foreign sealed key was replaced")
	}
}
