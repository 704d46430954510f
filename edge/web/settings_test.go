package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/hal/fsutil"
	"github.com/edgerec/edgerec/hal/timesync"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/storage/keys"
)

// testSettings is the Settings page's config owner in these tests: the
// non-camera part of a real config file in the env's dir, the cameras of
// the env's camera manager, validated by config.Validate and written
// atomically (hal/fsutil), as the production owner (*cameras.Manager)
// does. Retention shortening is proposed through the fake manager's R27
// proposals, so an approval applies it.
type testSettings struct {
	cams   *testCams
	path   string
	uplink *testUplink
	ntp    timesync.Servers

	mu   sync.Mutex
	base *config.Config
}

func newTestSettings(t *testing.T, dir string, cams *testCams, v *keys.Vault) *testSettings {
	t.Helper()
	base, err := config.Parse([]byte(fmt.Sprintf("device:\n  id: gw-test-01\nstorage:\n  data_dir: %s\n  ring_size: 64MiB\nlan:\n  listen: 127.0.0.1:8443\n", dir)), "edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &testSettings{cams: cams, path: filepath.Join(dir, "edgerec.yaml"), base: base,
		uplink: &testUplink{dir: filepath.Join(dir, "uplink"), vault: v}, ntp: timesync.Servers{Path: filepath.Join(dir, timesync.FileName)}}
	if err := s.write(s.Config()); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *testSettings) cameras() []config.Camera {
	cams, _ := s.cams.List(context.Background())
	slices.SortFunc(cams, func(a, b config.Camera) int { return strings.Compare(a.ID, b.ID) })
	return cams
}

func (s *testSettings) Config() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *s.base
	c.Cameras = s.cameras()
	return &c
}

func (s *testSettings) write(c *config.Config) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	return fsutil.WriteFile(s.path, data, 0o600)
}

func (s *testSettings) ChangeSettings(ctx context.Context, change func(*config.Config) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := *s.base
	next.LAN.Allowlist = slices.Clone(s.base.LAN.Allowlist)
	if s.base.Uplink != nil {
		u := *s.base.Uplink
		next.Uplink = &u
	}
	next.Cameras = s.cameras()
	if err := change(&next); err != nil {
		return err
	}
	if err := next.Validate(); err != nil {
		return err
	}
	if err := s.write(&next); err != nil {
		return err
	}
	next.Cameras = nil
	s.base = &next
	return nil
}

func (s *testSettings) SetRetention(ctx context.Context, id string, d config.Duration) error {
	cur := s.Config()
	i := slices.IndexFunc(cur.Cameras, func(c config.Camera) bool { return c.ID == id })
	if i < 0 {
		return ErrUnknownCamera
	}
	before, after := cur.Cameras[i], cur.Cameras[i]
	after.Retention = d
	cur.Cameras[i] = after
	if err := cur.Validate(); err != nil {
		return err
	}
	s.cams.mu.Lock()
	defer s.cams.mu.Unlock()
	if cur.CameraRetention(after) < cur.CameraRetention(before) {
		return s.cams.propose(id, grants.KindRetention, &after)
	}
	s.cams.cams[id].cfg.Retention = d
	return s.write(cur)
}

// testUplink keeps uplink material as provision.UplinkFiles does: the key
// sealed by the device vault, CA and certificate as files.
type testUplink struct {
	dir   string
	vault *keys.Vault
}

func (u *testUplink) UplinkRefs() (ca, cert, key string) {
	return filepath.Join(u.dir, "ca.pem"), filepath.Join(u.dir, "cert.pem"), config.VaultPrefix + config.VaultUplinkKey
}

func (u *testUplink) StoreUplink(ctx context.Context, ca, cert, key []byte) error {
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return err
	}
	caP, certP, _ := u.UplinkRefs()
	if key != nil {
		sealed, err := u.vault.Seal(config.VaultUplinkKey, key)
		if err != nil {
			return err
		}
		if err := fsutil.WriteFile(filepath.Join(u.dir, "key.sealed"), sealed, 0o600); err != nil {
			return err
		}
	}
	if cert != nil {
		if err := fsutil.WriteFile(certP, cert, 0o600); err != nil {
			return err
		}
	}
	if ca != nil {
		return fsutil.WriteFile(caP, ca, 0o600)
	}
	return nil
}

// testPair is a self-signed certificate and its key (PEM).
func testPair(t *testing.T, cn string, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
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

func (e *testEnv) configBytes() []byte {
	e.t.Helper()
	b, err := os.ReadFile(e.settings.path)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// lastAudit returns the newest record of action.
func (e *testEnv) lastAudit(action string) (recordView, bool) {
	recs := e.audit()
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Action == action {
			return recs[i], true
		}
	}
	return recordView{}, false
}

// Who may read and change which settings follows the permission table:
// network.manage (installer) for uplink and allowlist, config.change
// (admin, installer) for NTP, GPIO and retention; either reads. Refusals
// are 403 and audited; the page's nav shows Settings to those roles only,
// and GET says per section what the caller may change.
func TestSettingsPermissions(t *testing.T) {
	e := newEnv(t, envOptions{settings: true})
	tm := e.makeTeam()
	want := map[string]map[string]bool{ // role → section → may change
		"admin":     {"uplink": false, "allowlist": false, "ntp": true, "gpio": true, "retention": true},
		"installer": {"uplink": true, "allowlist": true, "ntp": true, "gpio": true, "retention": true},
		"operator":  {}, "approver": {}, "auditor": {},
	}
	for role, secs := range want {
		c := tm.cookies[role]
		mayRead := len(secs) > 0
		var v settingsView
		st := e.jdo("GET", "/api/v1/settings", nil, c, &v)
		if mayRead != (st == 200) || (!mayRead && st != 403) {
			t.Errorf("%s GET settings: %d", role, st)
		}
		if rec, ok := e.lastAudit("settings.read"); mayRead && (!ok || rec.Actor != tm.ids[role] || rec.Result != "ok") {
			t.Errorf("%s GET settings not audited: %+v", role, rec)
		}
		if mayRead {
			got := map[string]bool{"uplink": v.Uplink.MayChange, "allowlist": v.Allowlist.MayChange, "ntp": v.NTP.MayChange, "gpio": v.GPIO.MayChange, "retention": v.Retention.MayChange}
			for sec, w := range secs {
				if got[sec] != w {
					t.Errorf("%s: %s may_change %v, want %v", role, sec, got[sec], w)
				}
			}
		}
		resp := e.do("GET", "/settings", "", "", c)
		page := string(readAll(t, resp))
		if mayRead != (resp.StatusCode == 200) {
			t.Errorf("%s /settings page: %d", role, resp.StatusCode)
		}
		resp = e.do("GET", "/account", "", "", c)
		nav := string(readAll(t, resp))
		if strings.Contains(nav, `href="/settings"`) != mayRead {
			t.Errorf("%s: Settings in the nav: %v, want %v", role, !mayRead, mayRead)
		}
		_ = page
		for _, sec := range []string{"uplink", "allowlist", "ntp", "gpio", "retention"} {
			before := len(e.audit())
			resp := e.do("PUT", "/api/v1/settings/"+sec, "application/json", "{}", c)
			b := readAll(t, resp)
			refused := hasNew(e.audit()[before:], tm.ids[role], "http.forbidden")
			if secs[sec] {
				if resp.StatusCode == 403 || refused {
					t.Errorf("%s PUT %s: refused (%d %s)", role, sec, resp.StatusCode, b)
				}
			} else if resp.StatusCode != 403 || !refused {
				t.Errorf("%s PUT %s: %d (audited %v), want 403 and an audit record", role, sec, resp.StatusCode, refused)
			}
		}
	}
}

// A bad value is refused with 400 and a JSON message naming the field;
// the config file (and the NTP file) stay byte for byte as they were, and
// the refusal is audited (failed) with the field.
func TestSettingsBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, envOptions{settings: true})
	tm := e.makeTeam()
	inst := tm.cookies["installer"]
	if err := e.settings.ntp.SetNTPServers(context.Background(), []string{"ntp.example.net"}); err != nil {
		t.Fatal(err)
	}
	ntpBefore, _ := os.ReadFile(e.settings.ntp.Path)
	cfgBefore := e.configBytes()
	for _, c := range []struct {
		section, body, field string
	}{
		{"uplink", `{"broker":"mqtt://broker.example:1883"}`, "uplink.broker"},
		{"uplink", `{"broker":"https://broker.example"}`, "uplink.broker"},
		{"uplink", `{"broker":"mqtts://user:pw@broker.example"}`, "uplink.broker"},
		{"uplink", `{"broker":"mqtts://broker.example:8883","ca_pem":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`, "uplink.ca_pem"},
		{"uplink", `{"broker":"mqtts://broker.example:8883","topic_prefix":"a/#"}`, "uplink.topic_prefix"},
		{"allowlist", `{"allowlist":["10.0.0.0/33"]}`, "lan.allowlist[0]"},
		{"allowlist", `{"allowlist":["127.0.0.1","not-an-ip"]}`, "lan.allowlist[1]"},
		{"ntp", `{"servers":["bad host!"]}`, "ntp.servers[0]"},
		{"ntp", `{"servers":["a.example","a.example"]}`, "ntp.servers[1]"},
		{"gpio", `{"status_led":"PIN17","tamper":"","wipe_button":""}`, "gpio.status_led"},
		{"gpio", `{"status_led":"GPIO17","tamper":"GPIO17","wipe_button":""}`, "gpio.tamper"},
		{"retention", `{"camera":"cam1","retention":"1d"}`, "cameras.cam1.retention"},
		{"retention", `{"camera":"cam1","retention":"400d"}`, "cameras.cam1.retention"},
		{"retention", `{"camera":"cam1","retention":"soon"}`, "cameras.cam1.retention"},
		{"retention", `{"camera":"nocam","retention":"60d"}`, "camera"},
	} {
		resp := e.do("PUT", "/api/v1/settings/"+c.section, "application/json", c.body, inst)
		b := readAll(t, resp)
		var ev settingsErrorView
		_ = json.Unmarshal(b, &ev)
		if resp.StatusCode != 400 || ev.Field != c.field || !strings.HasPrefix(ev.Error, c.field+": ") {
			t.Errorf("%s %s: %d %s, want 400 naming %s", c.section, c.body, resp.StatusCode, b, c.field)
		}
		if !bytes.Equal(e.configBytes(), cfgBefore) {
			t.Fatalf("%s %s: the config file changed", c.section, c.body)
		}
		if rec, ok := e.lastAudit("settings." + c.section); !ok || rec.Result != "failed" || !strings.Contains(rec.Detail, c.field) {
			t.Errorf("%s: audit %+v", c.section, rec)
		}
	}
	if b, _ := os.ReadFile(e.settings.ntp.Path); !bytes.Equal(b, ntpBefore) {
		t.Fatal("the NTP file changed")
	}
	// Unknown fields and non-JSON bodies are refused too.
	resp := e.do("PUT", "/api/v1/settings/ntp", "application/json", `{"servers":[],"extra":1}`, inst)
	if st := resp.StatusCode; st != 400 {
		t.Errorf("unknown field: %d", st)
	}
	readAll(t, resp)
	if !bytes.Equal(e.configBytes(), cfgBefore) {
		t.Fatal("the config file changed")
	}
}

// The allowlist applies to the LAN page at once, and a list that would
// shut out the requester's own address is refused with a clear message.
func TestSettingsAllowlistLockoutAndLive(t *testing.T) {
	e := newEnv(t, envOptions{settings: true})
	tm := e.makeTeam()
	inst := tm.cookies["installer"]
	cfgBefore := e.configBytes()
	resp := e.do("PUT", "/api/v1/settings/allowlist", "application/json", `{"allowlist":["10.0.0.0/8"]}`, inst)
	msg := jsonError(t, resp, 400)
	if !strings.Contains(msg, "lock you out") || !strings.Contains(msg, "127.0.0.1") {
		t.Fatalf("lock-out message %q", msg)
	}
	if !bytes.Equal(e.configBytes(), cfgBefore) {
		t.Fatal("a refused allowlist was written")
	}
	// Before: any address may reach the page.
	get := func(addr string) int {
		r := httptest.NewRequest("GET", "/api/v1/settings", nil)
		r.RemoteAddr = addr
		r.AddCookie(inst)
		w := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(w, r)
		return w.Code
	}
	if st := get("192.168.7.9:40000"); st != 200 {
		t.Fatalf("before: %d", st)
	}
	var res settingsResult
	e.must(200, "PUT", "/api/v1/settings/allowlist", allowlistSettings{Allowlist: []string{"127.0.0.1", "10.0.0.0/8"}}, inst, &res)
	if res.Applied != "live" || res.RestartNeeded {
		t.Fatalf("answer %+v", res)
	}
	if st := get("192.168.7.9:40000"); st != 403 {
		t.Fatalf("an address outside the new list: %d, want 403", st)
	}
	if st := get("10.1.2.3:40000"); st != 200 {
		t.Fatalf("an address inside the new list: %d", st)
	}
	if st := get("[::ffff:10.1.2.3]:40000"); st != 200 {
		t.Fatalf("a mapped address inside the new list: %d", st)
	}
	c, err := config.Parse(e.configBytes(), "edgerec.yaml")
	if err != nil || !slices.Equal(c.LAN.Allowlist, []string{"127.0.0.1", "10.0.0.0/8"}) {
		t.Fatalf("file: %v %v", c, err)
	}
	if rec, ok := e.lastAudit("settings.allowlist"); !ok || rec.Result != "ok" || !strings.Contains(rec.Detail, "10.0.0.0/8") {
		t.Fatalf("audit %+v", rec)
	}
	// Back to every address.
	e.must(200, "PUT", "/api/v1/settings/allowlist", allowlistSettings{Allowlist: []string{}}, inst, &res)
	if st := get("192.168.7.9:40000"); st != 200 {
		t.Fatalf("after clearing: %d", st)
	}
}

// Lengthening a camera's retention applies at once; shortening it keeps
// less footage, so it waits for an approver who is not the requester
// (R27) and changes nothing until approved.
func TestSettingsRetentionShorteningNeedsApproval(t *testing.T) {
	e := newEnv(t, envOptions{settings: true})
	tm := e.makeTeam()
	inst := tm.cookies["installer"]
	var res settingsResult
	e.must(200, "PUT", "/api/v1/settings/retention", retentionSettings{Camera: "cam1", Retention: "60d"}, inst, &res)
	if res.Applied != "live" {
		t.Fatalf("lengthening: %+v", res)
	}
	if c, _ := config.Parse(e.configBytes(), "x"); c == nil || c.Cameras[0].Retention != config.Duration(60*24*time.Hour) {
		t.Fatalf("lengthening not written:\n%s", e.configBytes())
	}
	before := e.configBytes()
	e.must(202, "PUT", "/api/v1/settings/retention", retentionSettings{Camera: "cam1", Retention: "45d"}, tm.cookies["admin"], &res)
	if res.State != "waiting_for_approval" || res.Request == "" || res.Kind != grants.KindRetention {
		t.Fatalf("shortening: %+v", res)
	}
	if !bytes.Equal(e.configBytes(), before) {
		t.Fatal("a shortening was written before its approval")
	}
	var v settingsView
	e.must(200, "GET", "/api/v1/settings", nil, inst, &v)
	if v.Retention.Cameras[0].Effective != "60d" {
		t.Fatalf("before approval: %+v", v.Retention)
	}
	if rec, ok := e.lastAudit("settings.retention"); !ok || rec.Grant != res.Request || rec.Target != "cam1" {
		t.Fatalf("audit %+v", rec)
	}
	// The requester cannot approve; an approver can, and that applies it.
	if st := e.jdo("POST", "/api/v1/grants/"+res.Request+"/approve", nil, tm.cookies["admin"], nil); st != 403 {
		t.Fatalf("requester approving: %d", st)
	}
	e.must(200, "POST", "/api/v1/grants/"+res.Request+"/approve", nil, tm.cookies["approver"], nil)
	e.must(200, "GET", "/api/v1/settings", nil, inst, &v)
	if v.Retention.Cameras[0].Effective != "45d" || v.Retention.Cameras[0].Name != "Front door" {
		t.Fatalf("after approval: %+v", v.Retention)
	}
	// The admin (no cameras.read) sees camera ids, not names (R19).
	var av settingsView
	e.must(200, "GET", "/api/v1/settings", nil, tm.cookies["admin"], &av)
	if av.Retention.Cameras[0].Name != "" || av.Retention.Cameras[0].ID != "cam1" {
		t.Fatalf("admin view: %+v", av.Retention)
	}
}

// Uplink: TLS only; a certificate that does not pair with the key is
// refused and nothing is kept; good material is kept (the key sealed in
// the vault, never in the config, the answer, the audit log or the log)
// and takes effect after a restart.
func TestSettingsUplink(t *testing.T) {
	e := newEnv(t, envOptions{settings: true})
	tm := e.makeTeam()
	inst := tm.cookies["installer"]
	caPEM, _ := testPair(t, "Test Broker CA", time.Now().Add(365*24*time.Hour))
	certPEM, keyPEM := testPair(t, "gw-test-01", time.Now().Add(90*24*time.Hour))
	_, otherKey := testPair(t, "other", time.Now().Add(90*24*time.Hour))
	before := e.configBytes()
	req := uplinkSettings{Broker: "ssl://broker.example:8883", CAPEM: string(caPEM), CertPEM: string(certPEM), KeyPEM: string(otherKey)}
	resp := e.do("PUT", "/api/v1/settings/uplink", "application/json", mustJSON(t, req), inst)
	if msg := jsonError(t, resp, 400); !strings.HasPrefix(msg, "uplink.key_pem: ") {
		t.Fatalf("mismatch: %q", msg)
	}
	if !bytes.Equal(e.configBytes(), before) {
		t.Fatal("config changed")
	}
	if _, err := os.Stat(filepath.Join(e.settings.uplink.dir, "key.sealed")); err == nil {
		t.Fatal("a refused key was kept")
	}
	// Expired certificate.
	oldCert, oldKey := testPair(t, "gw-test-01", time.Now().Add(-time.Hour))
	req.CertPEM, req.KeyPEM = string(oldCert), string(oldKey)
	resp = e.do("PUT", "/api/v1/settings/uplink", "application/json", mustJSON(t, req), inst)
	if msg := jsonError(t, resp, 400); !strings.Contains(msg, "expired") {
		t.Fatalf("expired: %q", msg)
	}

	req.CertPEM, req.KeyPEM = string(certPEM), string(keyPEM)
	var res settingsResult
	e.must(200, "PUT", "/api/v1/settings/uplink", req, inst, &res)
	if !res.RestartNeeded || res.Applied != "" {
		t.Fatalf("answer %+v", res)
	}
	c, err := config.Parse(e.configBytes(), "edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Uplink == nil || string(c.Uplink.Broker) != "mqtts://broker.example:8883" || c.Uplink.Key != "vault:uplink/key" || c.Uplink.AllowPlaintext {
		t.Fatalf("uplink %+v", c.Uplink)
	}
	sealed, err := os.ReadFile(filepath.Join(e.settings.uplink.dir, "key.sealed"))
	if err != nil || !keys.IsSealed(sealed) {
		t.Fatalf("sealed key: %v", err)
	}
	if k, err := e.settings.uplink.vault.Open(config.VaultUplinkKey, sealed); err != nil || !bytes.Equal(k, keyPEM) {
		t.Fatalf("the sealed key does not open to the uploaded one: %v", err)
	}
	var v settingsView
	e.must(200, "GET", "/api/v1/settings", nil, inst, &v)
	if v.Uplink.Cert == nil || !strings.Contains(v.Uplink.Cert.Subject, "gw-test-01") || len(v.Uplink.Cert.SHA256) != 64 ||
		v.Uplink.CA == nil || !strings.Contains(v.Uplink.CA.Subject, "Test Broker CA") || v.Uplink.Key != "sealed in the vault" || !v.Uplink.RestartNeeded {
		t.Fatalf("view %+v", v.Uplink)
	}
	raw, _ := json.Marshal(v)
	keyDER, _ := pem.Decode(keyPEM)
	secret := []string{"PRIVATE KEY", base64.StdEncoding.EncodeToString(keyDER.Bytes)[:40]}
	for _, s := range secret {
		if strings.Contains(string(raw), s) || strings.Contains(string(e.configBytes()), s) || strings.Contains(e.logs.String(), s) {
			t.Fatalf("key material %q shown, written or logged", s)
		}
		for _, r := range e.audit() {
			if strings.Contains(r.Detail, s) || strings.Contains(r.Detail, "BEGIN") {
				t.Fatalf("key material in audit record %+v", r)
			}
		}
	}
	if rec, ok := e.lastAudit("settings.uplink"); !ok || rec.Result != "ok" || !strings.Contains(rec.Detail, "sha256") {
		t.Fatalf("audit %+v", rec)
	}
	// Plain MQTT is never accepted from the page.
	resp = e.do("PUT", "/api/v1/settings/uplink", "application/json", `{"broker":"mqtt://broker.example:1883"}`, inst)
	jsonError(t, resp, 400)
}

// NTP servers go to the time service's file (restart needed); GPIO pins
// to the config file (restart needed); both are audited and the page
// shows the pending restart.
func TestSettingsNTPAndGPIO(t *testing.T) {
	e := newEnv(t, envOptions{settings: true})
	tm := e.makeTeam()
	admin := tm.cookies["admin"]
	var res settingsResult
	e.must(200, "PUT", "/api/v1/settings/ntp", ntpSettings{Servers: []string{"NTP1.example.net", "192.0.2.10"}}, admin, &res)
	if !res.RestartNeeded {
		t.Fatalf("ntp %+v", res)
	}
	b, _ := os.ReadFile(e.settings.ntp.Path)
	if !strings.HasSuffix(string(b), "\nntp1.example.net\n192.0.2.10\n") {
		t.Fatalf("ntp file %q", b)
	}
	e.must(200, "PUT", "/api/v1/settings/gpio", gpioSettings{StatusLED: "GPIO17", Tamper: "GPIO22"}, admin, &res)
	if !res.RestartNeeded {
		t.Fatalf("gpio %+v", res)
	}
	c, err := config.Parse(e.configBytes(), "edgerec.yaml")
	if err != nil || c.GPIO.StatusLED != "GPIO17" || c.GPIO.Tamper != "GPIO22" {
		t.Fatalf("gpio in file: %+v %v", c, err)
	}
	var v settingsView
	e.must(200, "GET", "/api/v1/settings", nil, admin, &v)
	if !v.NTP.RestartNeeded || !v.GPIO.RestartNeeded || v.Allowlist.RestartNeeded || !slices.Equal(v.NTP.Servers, []string{"ntp1.example.net", "192.0.2.10"}) {
		t.Fatalf("view %+v %+v", v.NTP, v.GPIO)
	}
	for _, a := range []string{"settings.ntp", "settings.gpio"} {
		if rec, ok := e.lastAudit(a); !ok || rec.Result != "ok" || rec.Actor != tm.ids["admin"] {
			t.Errorf("%s audit %+v", a, rec)
		}
	}
}

// An installer whose role is scoped to some cameras sees and changes the
// retention of those only (R11, R19); another camera is "no camera" to
// him, as it is on the cameras page.
func TestSettingsRetentionCameraScope(t *testing.T) {
	e := newEnv(t, envOptions{settings: true})
	tm := e.makeTeam()
	if err := e.cams.Add(context.Background(), config.Camera{ID: "cam2", Name: "Yard", Source: "test://pattern?width=320&height=180&fps=10",
		Zone: "entrance", Signage: config.Signage{AttestedBy: "setup", Date: config.Date{Time: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	e.must(201, "POST", "/api/v1/users", createUserRequest{User: "scoped", Password: testOneTime}, tm.cookies["admin"], &out)
	var g grantView
	e.must(201, "POST", "/api/v1/users/"+out["id"]+"/role", roleRequest{Role: "installer", Cameras: []string{"cam1"}}, tm.cookies["admin"], &g)
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, tm.cookies["approver"], nil)
	scoped := e.firstLogin("scoped")
	var v settingsView
	e.must(200, "GET", "/api/v1/settings", nil, scoped, &v)
	if len(v.Retention.Cameras) != 1 || v.Retention.Cameras[0].ID != "cam1" {
		t.Fatalf("scoped view %+v", v.Retention.Cameras)
	}
	before := e.configBytes()
	resp := e.do("PUT", "/api/v1/settings/retention", "application/json", `{"camera":"cam2","retention":"60d"}`, scoped)
	if msg := jsonError(t, resp, 400); msg != "camera: no camera cam2 on this device" {
		t.Fatalf("out of scope: %q", msg)
	}
	if !bytes.Equal(e.configBytes(), before) {
		t.Fatal("config changed")
	}
	var av settingsView
	e.must(200, "GET", "/api/v1/settings", nil, tm.cookies["admin"], &av)
	if len(av.Retention.Cameras) != 2 {
		t.Fatalf("admin view %+v", av.Retention.Cameras)
	}
}
