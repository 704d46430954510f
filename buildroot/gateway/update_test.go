package gateway

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// vendor is an update signing CA and a release certificate under it.
type vendor struct{ CA, Cert, Key string }

func newVendor(t *testing.T, name string) vendor {
	t.Helper()
	return newVendorIn(t, t.TempDir(), name)
}

func newVendorIn(t *testing.T, dir, name string) vendor {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " update CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name + " release"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageEmailProtection}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	v := vendor{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	kder, _ := x509.MarshalECPrivateKey(key)
	for p, blk := range map[string]*pem.Block{v.CA: {Type: "CERTIFICATE", Bytes: caDER}, v.Cert: {Type: "CERTIFICATE", Bytes: leafDER},
		v.Key: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(p, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// lan is a client of the gateway's LAN API over the host forward, pinned
// to the certificate fingerprint the console printed.
type lan struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newLAN(t *testing.T, port int, fingerprint string) *lan {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, // pinned below
		VerifyConnection: func(cs tls.ConnectionState) error {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			var parts []string
			for _, c := range sum {
				parts = append(parts, fmt.Sprintf("%02X", c))
			}
			if got := strings.Join(parts, ":"); got != fingerprint {
				return fmt.Errorf("LAN certificate %s, console printed %s", got, fingerprint)
			}
			return nil
		}}}
	t.Cleanup(tr.CloseIdleConnections)
	return &lan{t: t, base: fmt.Sprintf("https://127.0.0.1:%d", port), client: &http.Client{Transport: tr, Timeout: 10 * time.Minute}}
}

// do sends body (JSON for a non-[]byte value) and returns status and answer.
func (l *lan) do(method, path string, body any, cookie *http.Cookie) (int, []byte, *http.Response) {
	l.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ct = bytes.NewReader(b), "application/octet-stream"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, l.base+path, rd)
	if err != nil {
		l.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", l.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		l.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp
}

func (l *lan) must(want int, method, path string, body any, cookie *http.Cookie, into any) *http.Response {
	l.t.Helper()
	st, out, resp := l.do(method, path, body, cookie)
	if st != want {
		l.t.Fatalf("%s %s: %d %s (want %d)", method, path, st, out, want)
	}
	if into != nil {
		if err := json.Unmarshal(out, into); err != nil {
			l.t.Fatalf("%s %s: %v: %s", method, path, err, out)
		}
	}
	return resp
}

func session(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Value != "" && c.MaxAge >= 0 {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

const gwPassword = "correct horse battery staple"

// team creates the first admin with the setup code the console printed,
// an approver (the first approver: bootstrapped by the admin) and an
// auditor (requested by the admin, approved by the approver).
func (l *lan) team(console string) (admin, approver, auditor *http.Cookie) {
	l.t.Helper()
	m := regexp.MustCompile(`setup code:\s+(\S+)`).FindStringSubmatch(console)
	if m == nil {
		l.t.Fatal("the console did not print the setup code")
	}
	admin = session(l.t, l.must(200, "POST", "/api/v1/setup", map[string]string{"code": m[1], "user": "admin", "password": gwPassword}, nil, nil))
	var u map[string]string
	l.must(201, "POST", "/api/v1/users", map[string]string{"user": "approver", "password": "one-time from the admin"}, admin, &u)
	var g map[string]any
	l.must(201, "POST", "/api/v1/users/"+u["id"]+"/role", map[string]any{"role": "approver"}, admin, &g)
	approver = session(l.t, l.must(200, "POST", "/api/v1/login", map[string]string{"user": "approver", "password": "one-time from the admin"}, nil, nil))
	l.must(204, "POST", "/api/v1/account/password", map[string]string{"old": "one-time from the admin", "password": gwPassword}, approver, nil)
	l.must(201, "POST", "/api/v1/users", map[string]string{"user": "auditor", "password": "one-time from the admin"}, admin, &u)
	l.must(201, "POST", "/api/v1/users/"+u["id"]+"/role", map[string]any{"role": "auditor"}, admin, &g)
	l.must(200, "POST", "/api/v1/grants/"+g["id"].(string)+"/approve", nil, approver, nil)
	auditor = session(l.t, l.must(200, "POST", "/api/v1/login", map[string]string{"user": "auditor", "password": "one-time from the admin"}, nil, nil))
	l.must(204, "POST", "/api/v1/account/password", map[string]string{"old": "one-time from the admin", "password": gwPassword}, auditor, nil)
	return admin, approver, auditor
}

type auditRecord struct {
	Action string `json:"action"`
	Result string `json:"result"`
	Grant  string `json:"grant"`
	Detail string `json:"detail"`
}

// audit returns the newest audit records (auditor's session).
func (l *lan) audit(auditor *http.Cookie) []auditRecord {
	l.t.Helper()
	var out struct {
		Records []auditRecord `json:"records"`
	}
	l.must(200, "GET", "/api/v1/audit?limit=1000", nil, auditor, &out)
	return out.Records
}

type updateStatus struct {
	Slot    string `json:"slot"`
	System  string `json:"system_version"`
	Trial   bool   `json:"trial"`
	State   string `json:"state"`
	Message string `json:"message"`
	// Why the last slot on trial was rolled back (the supervisor's copy
	// of edgerec's last lines).
	LastTrialFailure string `json:"last_trial_failure"`
}

// lastBeacon waits for a beacon that satisfies ok and returns it.
func lastBeacon(t *testing.T, sub *uplinktest.Sub, after time.Time, timeout time.Duration, what string, ok func(*wire.Beacon) bool) *wire.Beacon {
	t.Helper()
	var found *wire.Beacon
	sub.Wait(t, timeout, what, func(ms []uplinktest.Message) bool {
		for i := len(ms) - 1; i >= 0; i-- {
			m := ms[i]
			if m.Topic != "edgerec/gw-qemu/beacon" || m.At.Before(after) {
				continue
			}
			msg, err := wire.Decode(wire.KindBeacon, m.Payload)
			if err != nil {
				continue
			}
			if b := msg.(*wire.Beacon); ok(b) {
				found = b
				return true
			}
		}
		return false
	})
	return found
}

// bundle builds an update bundle with scripts/qemu-gateway.sh bundle.
func bundle(t *testing.T, root, out string, v vendor, version string, broken bool) string {
	t.Helper()
	dst := filepath.Join(out, version+".raucb")
	args := []string{"bundle", out, version, v.Cert, v.Key, dst}
	if broken {
		args = append(args, "broken")
	}
	if b, err := exec.Command(filepath.Join(root, "scripts/qemu-gateway.sh"), args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-gateway.sh bundle: %v\n%s", err, b)
	}
	return dst
}

// slotState is the boot-chooser state and the hash of slot B's first MiB.
func (b *board) slotState() string {
	b.t.Helper()
	return strings.TrimSpace(b.must("/usr/libexec/edgerec/boot-chooser show; head -c 1048576 /dev/vda3 | sha256sum"))
}

// waitLAN waits until the LAN page answers over the forward.
func (b *board) waitLAN(timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := b.lanFingerprint(5 * time.Second)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("LAN page: %v\nconsole:\n%s", err, tail(b.consoleText(), 3000))
		}
		time.Sleep(time.Second)
	}
}

// waitReboot waits for a new boot id.
func (b *board) waitReboot(what, bootID string, timeout time.Duration) {
	b.t.Helper()
	b.waitGuest(what, "[ \"$(cat /proc/sys/kernel/random/boot_id)\" != "+bootID+" ]", timeout)
}

// testUpdates (issue 16, R21): refused bundles change nothing and are
// audited; a bundle whose edgerec never becomes healthy is rolled back; a
// good bundle installed under the two-person approval boots in slot B and
// the beacons show its version.
func (b *board) testUpdates(root, out string, v vendor, fp string, sub *uplinktest.Sub) *lan {
	t := b.t
	l := newLAN(t, b.lanPort, fp)
	admin, approver, auditor := l.team(b.consoleText())
	var st updateStatus
	l.must(200, "GET", "/api/v1/update", nil, admin, &st)
	if st.Slot != "A" || st.System != "qemu-1" || st.Trial {
		t.Fatalf("update status before any update: %+v", st)
	}
	before := b.slotState()

	// Refused: unsigned, wrongly signed, truncated. Audited; nothing changed.
	good := bundle(t, root, out, v, "qemu-2", false)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	sigLen := int(data[len(data)-1]) | int(data[len(data)-2])<<8
	other := newVendor(t, "mallory")
	wrong, _ := os.ReadFile(bundle(t, root, out, other, "qemu-evil", false))
	for name, body := range map[string][]byte{
		"unsigned":       data[:len(data)-8-sigLen],
		"wrongly signed": wrong,
		"truncated":      data[:len(data)-4096],
	} {
		code, msg, _ := l.do("POST", "/api/v1/update", body, admin)
		if code != http.StatusBadRequest || !strings.Contains(string(msg), "bundle refused") {
			t.Errorf("%s bundle: %d %s (want 400 bundle refused)", name, code, msg)
		}
		t.Logf("%s bundle: %d %s", name, code, strings.TrimSpace(string(msg)))
	}
	// The approver may not upload; the admin may not approve their own.
	if code, msg, _ := l.do("POST", "/api/v1/update", data, approver); code != http.StatusForbidden {
		t.Errorf("approver uploaded: %d %s", code, msg)
	}
	if after := b.slotState(); after != before {
		t.Errorf("refused bundles changed the slots:\nbefore %s\nafter  %s", before, after)
	}
	refusals := 0
	for _, r := range l.audit(auditor) {
		if r.Action == "update.upload" && r.Result != "ok" && strings.Contains(r.Detail, "bundle refused") {
			refusals++
		}
	}
	if refusals != 3 {
		t.Errorf("want 3 audited refusals of update.upload, have %d: %+v", refusals, l.audit(auditor))
	}

	// A bundle whose edgerec never comes up healthy: installed in slot B,
	// tried, rolled back to A.
	broken := bundle(t, root, out, v, "qemu-broken", true)
	bb, _ := os.ReadFile(broken)
	var pending struct {
		Request string `json:"request"`
	}
	l.must(202, "POST", "/api/v1/update", bb, admin, &pending)
	if code, msg, _ := l.do("POST", "/api/v1/grants/"+pending.Request+"/approve", nil, admin); code != http.StatusForbidden {
		t.Errorf("the requester approved their own update: %d %s", code, msg)
	}
	bootID := strings.TrimSpace(b.must("cat /proc/sys/kernel/random/boot_id"))
	t0 := time.Now()
	l.must(200, "POST", "/api/v1/grants/"+pending.Request+"/approve", nil, approver, nil)
	b.waitReboot("reboot into the broken slot", bootID, 5*time.Minute)
	b.waitGuest("rollback to slot A", "[ \"$(/usr/libexec/edgerec/boot-chooser get-current)\" = A ] && /usr/libexec/edgerec/boot-chooser show | grep -q '^BAD=B'", 8*time.Minute)
	b.waitGuest("edgerec running after the rollback", "pidof edgerec", 2*time.Minute)
	con := b.consoleText()
	for _, want := range []string{"initramfs: trying slot B", "edgerec failed 3 times on the trial slot", "never came up healthy: rollback to slot A"} {
		if !strings.Contains(con, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	b.waitLAN(3 * time.Minute)
	t.Logf("broken update: approval → rolled back to A, LAN page answering: %v", time.Since(t0).Round(time.Second))
	admin, approver = l.login("admin"), l.login("approver") // sessions end with a reboot
	// The technician sees why: the broken slot's last lines.
	l.must(200, "GET", "/api/v1/update", nil, admin, &st)
	if !strings.Contains(st.LastTrialFailure, "edgerec failed 3 times on the trial slot") ||
		!strings.Contains(st.LastTrialFailure, "broken build (update rollback test)") {
		t.Errorf("update status after the rollback does not say why: %+v", st)
	}
	lastBeacon(t, sub, time.Now(), 3*time.Minute, "a beacon from slot A after the rollback", func(bc *wire.Beacon) bool {
		return bc.Slot == "A" && bc.System == "qemu-1"
	})

	// The good bundle: two-person approval, slot B, kept once healthy.
	l.must(202, "POST", "/api/v1/update", data, admin, &pending)
	bootID = strings.TrimSpace(b.must("cat /proc/sys/kernel/random/boot_id"))
	t0 = time.Now()
	l.must(200, "POST", "/api/v1/grants/"+pending.Request+"/approve", nil, approver, nil)
	b.waitReboot("reboot into slot B", bootID, 5*time.Minute)
	b.waitGuest("slot B kept (marked good after the first sealed segment)",
		"[ \"$(/usr/libexec/edgerec/boot-chooser get-current)\" = B ] && /usr/libexec/edgerec/boot-chooser show | grep -q '^PRIMARY=B' && /usr/libexec/edgerec/boot-chooser show | grep -q '^TRY=$'", 6*time.Minute)
	t.Logf("good update: approval → slot B booted and marked good: %v", time.Since(t0).Round(time.Second))
	b.waitLAN(3 * time.Minute)
	bc := lastBeacon(t, sub, time.Now(), 3*time.Minute, "a beacon with the new version from slot B", func(bc *wire.Beacon) bool {
		return bc.Slot == "B" && bc.System == "qemu-2"
	})
	t.Logf("beacon after the update: fw=%s sys=%s slot=%s", bc.Firmware, bc.System, bc.Slot)
	mounts := b.must("cat /proc/mounts")
	if !regexp.MustCompile(`(?m)^/dev/vda3 / ext4 ro[,\s]`).MatchString(mounts) {
		t.Errorf("slot B not the read-only root:\n%s", mounts)
	}

	// A power cut while the next bundle is being written to slot A: the
	// board boots slot B again, untouched, and records.
	admin, approver = l.login("admin"), l.login("approver")
	next, _ := os.ReadFile(bundle(t, root, out, v, "qemu-3", false))
	l.must(202, "POST", "/api/v1/update", next, admin, &pending)
	l.must(200, "POST", "/api/v1/grants/"+pending.Request+"/approve", nil, approver, nil)
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		var cur struct {
			State  string `json:"state"`
			Target string `json:"target"`
		}
		l.must(200, "GET", "/api/v1/update", nil, admin, &cur)
		if cur.State == "installing" && cur.Target == "A" {
			break
		}
		if time.Now().After(deadline) || cur.State == "installed" || cur.State == "failed" {
			t.Fatalf("install of qemu-3 never seen writing slot A: %+v", cur)
		}
	}
	time.Sleep(3 * time.Second)
	b.cut()
	b.boot()
	b.waitLAN(3 * time.Minute)
	state := b.must("/usr/libexec/edgerec/boot-chooser get-current; /usr/libexec/edgerec/boot-chooser show")
	if !strings.HasPrefix(state, "B\n") || !strings.Contains(state, "PRIMARY=B\n") || !strings.Contains(state, "TRY=\n") {
		t.Errorf("after a power cut during an install: %s", state)
	}
	b.waitGuest("edgerec running after the cut during the install", "pidof edgerec", 2*time.Minute)
	t.Logf("power cut while writing slot A: booted slot B again (%s)", strings.ReplaceAll(strings.TrimSpace(state), "\n", " "))

	// The audit log: three installs used their grant once, approved by the
	// approver; the LAN page of slot B reads the same store.
	auditor = l.login("auditor")
	uses := 0
	for _, r := range l.audit(auditor) {
		if r.Action == "grant.use.update" && r.Result == "ok" {
			uses++
		}
	}
	if uses != 3 {
		t.Errorf("want 3 audited update grant uses, have %d", uses)
	}
	l.must(200, "GET", "/api/v1/update", nil, auditor, &st)
	if st.Slot != "B" || st.System != "qemu-2" || st.Trial {
		t.Errorf("update status after the update: %+v", st)
	}
	return l
}

// login signs a user of the team in again (sessions end with a reboot).
func (l *lan) login(user string) *http.Cookie {
	l.t.Helper()
	return session(l.t, l.must(200, "POST", "/api/v1/login", map[string]string{"user": user, "password": gwPassword}, nil, nil))
}

type span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// timeline is a camera's footage of the last 24 hours.
func (l *lan) timeline(c *http.Cookie, camera string) []span {
	l.t.Helper()
	var out struct {
		Spans []span `json:"spans"`
	}
	l.must(200, "GET", "/api/v1/recordings/"+camera+"/timeline", nil, c, &out)
	return out.Spans
}
