package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func newForCert(t *testing.T, dir string, now func() time.Time, sealer Sealer) *Server {
	t.Helper()
	d := minimalDeps(t, t.TempDir())
	d.Now = now
	d.Sealer = sealer
	s, err := New(Config{DataDir: dir, DeviceID: "gw-test-01"}, d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// R20: the device certificate is ECDSA P-256, self-signed, names the loopback
// addresses, localhost and the device id, is created once with private file
// modes and reused (same fingerprint) on the next start.
func TestR20CertificateCreatedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	v := testVault(t)
	s1 := newForCert(t, dir, clock.Now, v)

	tlsDir := filepath.Join(dir, "tls")
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{tlsDir, 0o700}, {filepath.Join(tlsDir, keyFileName), 0o600}} {
		st, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != c.mode {
			t.Errorf("%s mode %v, want %v", c.path, st.Mode().Perm(), c.mode)
		}
	}
	entries, _ := os.ReadDir(tlsDir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}

	der, err := os.ReadFile(filepath.Join(tlsDir, certFileName))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("public key %T, want ECDSA P-256", cert.PublicKey)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil ||
		!bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		t.Errorf("not self-signed: %v", err)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost", "gw-test-01"} {
		if err := cert.VerifyHostname(host); err != nil {
			t.Errorf("certificate does not cover %s: %v", host, err)
		}
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Error("no serverAuth extended key usage")
	}

	sum := sha256.Sum256(der)
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	fp := s1.Fingerprint()
	if strings.ReplaceAll(fp, ":", "") != want || !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fp) {
		t.Errorf("fingerprint %q, want colon hex of %s", fp, want)
	}

	s2 := newForCert(t, dir, clock.Now, v)
	if s2.Fingerprint() != fp {
		t.Errorf("second New: fingerprint %s, want the same %s", s2.Fingerprint(), fp)
	}

	// Near expiry the certificate is re-issued for the same key.
	clock.Advance(certLifetime - certRenewBefore + time.Hour)
	s3 := newForCert(t, dir, clock.Now, v)
	if s3.Fingerprint() == fp {
		t.Error("expiring certificate was not re-issued")
	}
	c3, _ := x509.ParseCertificate(s3.Certificate())
	if !c3.PublicKey.(*ecdsa.PublicKey).Equal(pub) {
		t.Error("re-issued certificate has a new key")
	}
}

// R20: a damaged key is an error, never a silent new device identity.
func TestR20DamagedKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	v := testVault(t)
	newForCert(t, dir, nil, v)
	keyPath := filepath.Join(dir, "tls", keyFileName)
	if err := os.WriteFile(keyPath, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := minimalDeps(t, t.TempDir())
	d.Sealer = v
	_, err := New(Config{DataDir: dir, DeviceID: "gw-test-01"}, d)
	if err == nil {
		t.Fatal("New accepted a damaged key")
	}
	if b, _ := os.ReadFile(keyPath); string(b) != "garbage" {
		t.Error("the damaged key was overwritten")
	}
}

// dataDirHolds returns the files under dir whose raw bytes contain needle.
func dataDirHolds(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(b, needle) {
				hits = append(hits, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// R32 (issue 13): after provisioning, no file of the data dir holds a PEM
// block, the TLS private key (PKCS#8 DER or its raw scalar); the server
// then loads the sealed key and shows the fingerprint provisioning printed
// (SHA-256 of the certificate DER) and presents that certificate in the
// TLS handshake.
func TestR32TLSKeySealedAtRest(t *testing.T) {
	dir := t.TempDir()
	v := testVault(t)
	fp, err := ProvisionCertificate(dir, "gw-test-01", time.Now(), v)
	if err != nil {
		t.Fatal(err)
	}
	d := minimalDeps(t, t.TempDir())
	d.Sealer = v
	s, err := New(Config{Listen: "127.0.0.1:0", DataDir: dir, DeviceID: "gw-test-01"}, d)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint() != fp {
		t.Errorf("server fingerprint %s, provisioning printed %s", s.Fingerprint(), fp)
	}
	key := s.cert.tls.PrivateKey.(*ecdsa.PrivateKey)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	scalar := key.D.FillBytes(make([]byte, 32))
	for name, needle := range map[string][]byte{"PEM block": []byte("-----BEGIN"), "PKCS#8 key": pkcs8, "key scalar": scalar} {
		if hits := dataDirHolds(t, dir, needle); len(hits) > 0 {
			t.Errorf("%s found at rest in %v", name, hits)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	<-s.Ready()
	conn, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	peer := conn.ConnectionState().PeerCertificates[0].Raw
	conn.Close()
	if fingerprint(peer) != fp {
		t.Errorf("handshake certificate %s, provisioning printed %s", fingerprint(peer), fp)
	}
	cancel()
	<-done
}

// R32 (issue 13): a TLS key sealed under another device's vault (a card
// moved between gateways, a restored backup) is one clear error at start;
// nothing in the tls directory is replaced.
func TestR32TLSKeyFromAnotherDeviceRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := ProvisionCertificate(dir, "gw-test-01", time.Now(), testVault(t)); err != nil {
		t.Fatal(err)
	}
	tlsDir := filepath.Join(dir, "tls")
	before := map[string][]byte{}
	entries, _ := os.ReadDir(tlsDir)
	for _, e := range entries {
		before[e.Name()], _ = os.ReadFile(filepath.Join(tlsDir, e.Name()))
	}
	d := minimalDeps(t, t.TempDir())
	d.Sealer = testVault(t) // another device
	_, err := New(Config{DataDir: dir, DeviceID: "gw-test-01"}, d)
	if err == nil || !strings.Contains(err.Error(), "another device") || !strings.Contains(err.Error(), keyFileName) {
		t.Fatalf("New with another device's vault: %v, want a clear error naming the key", err)
	}
	if _, err := ProvisionCertificate(dir, "gw-test-01", time.Now(), d.Sealer); err == nil {
		t.Error("ProvisionCertificate accepted another device's key")
	}
	entries, _ = os.ReadDir(tlsDir)
	if len(entries) != len(before) {
		t.Errorf("tls dir has %d files, had %d", len(entries), len(before))
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(tlsDir, e.Name()))
		if !bytes.Equal(b, before[e.Name()]) {
			t.Errorf("%s was changed", e.Name())
		}
	}
}

// R32 (issue 13): the key.pem and cert.pem of older firmware are sealed at
// the next start (same key, same fingerprint) and then removed; no PEM block
// is left.
func TestR32LegacyPEMKeyMigrated(t *testing.T) {
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	certDER, err := issueCert(key, "gw-test-01", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tlsDir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	os.WriteFile(filepath.Join(tlsDir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o644)

	v := testVault(t)
	s := newForCert(t, dir, nil, v)
	if s.Fingerprint() != fingerprint(certDER) {
		t.Errorf("fingerprint changed by the migration: %s, was %s", s.Fingerprint(), fingerprint(certDER))
	}
	for _, name := range []string{"key.pem", "cert.pem"} {
		if _, err := os.Stat(filepath.Join(tlsDir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind: %v", name, err)
		}
	}
	for name, needle := range map[string][]byte{"PEM block": []byte("-----BEGIN"), "PKCS#8 key": kd} {
		if hits := dataDirHolds(t, dir, needle); len(hits) > 0 {
			t.Errorf("%s found at rest in %v", name, hits)
		}
	}
	if s2 := newForCert(t, dir, nil, v); s2.Fingerprint() != fingerprint(certDER) {
		t.Error("second start after the migration: another certificate")
	}
}

// R20: TLS 1.1 and older are refused; TLS 1.2 without AEAD suites is refused;
// TLS 1.2 with AEAD and TLS 1.3 work.
func TestR20TLSVersionsAndSuites(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	addr := e.srv.Addr().String()
	cert, _ := x509.ParseCertificate(e.srv.Certificate())
	pool := x509.NewCertPool()
	pool.AddCert(cert)

	handshake := func(cfg *tls.Config) (*tls.ConnectionState, error) {
		cfg.RootCAs = pool
		cfg.ServerName = "127.0.0.1"
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		st := c.(*tls.Conn).ConnectionState()
		return &st, nil
	}
	if _, err := handshake(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 handshake succeeded")
	}
	if _, err := handshake(&tls.Config{MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}); err == nil {
		t.Error("TLS 1.2 with a CBC suite succeeded")
	}
	st, err := handshake(&tls.Config{MaxVersion: tls.VersionTLS12})
	if err != nil || st.Version != tls.VersionTLS12 {
		t.Errorf("TLS 1.2: %v", err)
	}
	st, err = handshake(&tls.Config{CurvePreferences: []tls.CurveID{tls.X25519}})
	if err != nil || st.Version != tls.VersionTLS13 {
		t.Errorf("TLS 1.3: %v", err)
	}
}

// R20: plain HTTP on the TLS port gets no page.
func TestR20PlainHTTPNotServed(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + e.srv.Addr().String() + "/")
	if err != nil {
		return // connection refused or closed is fine too
	}
	body := readAll(t, resp)
	if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "<form") {
		t.Errorf("plain HTTP answered %d %q", resp.StatusCode, body)
	}
}

// R21: an allowlist admits only its prefixes; other addresses get 403.
func TestR21Allowlist(t *testing.T) {
	outside := newEnv(t, envOptions{noCams: true, allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, p := range []string{"/", "/api/v1/health", "/static/app.css"} {
		resp := outside.do(http.MethodGet, p, "", "", nil)
		jsonError(t, resp, http.StatusForbidden)
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: 403 without security headers", p)
		}
	}
	resp := outside.loginJSON("admin", testPassword)
	jsonError(t, resp, http.StatusForbidden)

	// IPv4-mapped prefixes are unmapped, so ::ffff:127.0.0.0/104 admits 127.0.0.1.
	inside := newEnv(t, envOptions{noCams: true, allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::ffff:127.0.0.0/104")}})
	resp = inside.do(http.MethodGet, "/", "", "", nil)
	if readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Errorf("inside allowlist: status %d", resp.StatusCode)
	}

	dir := t.TempDir()
	_, err := New(Config{DataDir: dir, DeviceID: "x", Allowlist: []netip.Prefix{{}}}, minimalDeps(t, t.TempDir()))
	if err == nil {
		t.Error("invalid allowlist entry accepted (it could widen the allowlist to everybody)")
	}
}
