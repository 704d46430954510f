package provision

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
)

// clientPair is a client certificate and key (uplinktest) inside dir.
func clientPair(t *testing.T, dir string) (certFile, keyFile string, keyPEM []byte) {
	t.Helper()
	c := uplinktest.NewCerts(t, dir)
	keyPEM, err := os.ReadFile(c.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return c.ClientCert, c.ClientKey, keyPEM
}

func deviceConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	c := config.Demo(dir)
	c.Device = config.Device{ID: "gw-1"}
	c.Cameras = nil
	c.Storage.DataDir = dir
	c.Storage.RingSize = 16 << 20
	c.Storage.KeyProvider = "file"
	return c
}

// Issue 15 (provisioning out of cmd/edgerec; issue 13, R32): a device is
// created without the binary: store, vault, signing key, TLS certificate,
// setup code and an installed config whose uplink key and password are
// vault references; the plain key file inside the data dir is gone, and
// Uplink opens the sealed secrets again. A second provisioning is refused.
func TestDeviceSealsUplinkSecrets(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, keyPEM := clientPair(t, dir) // the installer's bundle puts the key in the data dir
	c := deviceConfig(t, dir)
	c.Uplink = &config.Uplink{Broker: "mqtts://127.0.0.1:8883", TopicPrefix: "edgerec", Cert: certFile, Key: keyFile, Username: "gw-1", Password: "hunter2", BeaconInterval: config.Duration(time.Minute)}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var notes bytes.Buffer
	res, err := Device(ctx, Request{Config: c, Notes: &notes})
	if err != nil {
		t.Fatal(err)
	}
	if res.Provider != storage.ProviderFile || len(res.PublicKey) == 0 || res.TLSFingerprint == "" || res.SetupCode == "" || res.ConfigPath != filepath.Join(dir, ConfigFile) {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(notes.String(), "check: free space") || !strings.Contains(notes.String(), "warning: key provider file") {
		t.Fatalf("notes: %s", notes.String())
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the plain key inside the data dir is still there: %v", err)
	}
	installed, err := config.Load(res.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if installed.Uplink.Key != "vault:uplink/key" || string(installed.Uplink.Password) != "vault:uplink/password" {
		t.Fatalf("installed uplink: key %q password %q", installed.Uplink.Key, installed.Uplink.Password)
	}
	raw, _ := os.ReadFile(res.ConfigPath)
	if bytes.Contains(raw, []byte("hunter2")) || bytes.Contains(raw, keyPEM) {
		t.Fatal("a secret is in the installed config")
	}
	vault, err := storage.OpenVault(ctx, dir, keyprov.Providers(dir, keyprov.Settings{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	uc, warnings, err := Uplink(dir, "gw-1", "test", installed.Uplink, vault)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("uplink: %v %v", err, warnings)
	}
	if !bytes.Equal(uc.KeyPEM, keyPEM) || uc.Password != "hunter2" || uc.KeyFile != "" || uc.DeviceID != "gw-1" {
		t.Fatalf("uplink config: key file %q, %d key bytes, password %q", uc.KeyFile, len(uc.KeyPEM), uc.Password)
	}
	// Plain secrets still work, each with a warning.
	plain := *installed.Uplink
	plain.Key, plain.Password = certFile, "pw"
	if _, warnings, err := Uplink(dir, "gw-1", "test", &plain, vault); err != nil || len(warnings) != 2 {
		t.Fatalf("plain secrets: %v %v", err, warnings)
	}
	// A reference whose sealed file is gone is an error.
	if err := os.Remove(SealedPath(dir, config.VaultUplinkKey)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Uplink(dir, "gw-1", "test", installed.Uplink, vault); err == nil {
		t.Fatal("a missing sealed key was not an error")
	}
	if _, err := Device(ctx, Request{Config: deviceConfig(t, dir)}); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second provisioning: %v", err)
	}
}

// The install check refuses a ring that does not fit, before anything is
// written.
func TestDeviceRefusesARingThatDoesNotFit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := deviceConfig(t, dir)
	c.Storage.RingSize = 1 << 60
	_, err := Device(context.Background(), Request{Config: c})
	if err == nil || !strings.Contains(err.Error(), "install check") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a config was written")
	}
}

// The demo's config is written on the first start and read back after
// (changes made on the LAN page stay).
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	c, path, err := Demo(dir)
	if err != nil || len(c.Cameras) == 0 || path != filepath.Join(dir, ConfigFile) {
		t.Fatalf("first: %v %q", err, path)
	}
	c.Cameras[0].Name = "Changed on the page"
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	again, _, err := Demo(dir)
	if err != nil || again.Cameras[0].Name != "Changed on the page" {
		t.Fatalf("second start: %v %+v", err, again.Cameras[0].Name)
	}
}
