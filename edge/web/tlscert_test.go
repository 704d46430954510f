package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
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

func newForCert(t *testing.T, dir string, now func() time.Time) *Server {
	t.Helper()
	d := minimalDeps(t, t.TempDir())
	d.Now = now
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
	s1 := newForCert(t, dir, clock.Now)

	tlsDir := filepath.Join(dir, "tls")
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{tlsDir, 0o700}, {filepath.Join(tlsDir, "key.pem"), 0o600}} {
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

	pemBytes, err := os.ReadFile(filepath.Join(tlsDir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(block.Bytes)
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

	sum := sha256.Sum256(block.Bytes)
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	fp := s1.Fingerprint()
	if strings.ReplaceAll(fp, ":", "") != want || !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fp) {
		t.Errorf("fingerprint %q, want colon hex of %s", fp, want)
	}

	s2 := newForCert(t, dir, clock.Now)
	if s2.Fingerprint() != fp {
		t.Errorf("second New: fingerprint %s, want the same %s", s2.Fingerprint(), fp)
	}

	// Near expiry the certificate is re-issued for the same key.
	clock.Advance(certLifetime - certRenewBefore + time.Hour)
	s3 := newForCert(t, dir, clock.Now)
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
	newForCert(t, dir, nil)
	if err := os.WriteFile(filepath.Join(dir, "tls", "key.pem"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{DataDir: dir, DeviceID: "gw-test-01"}, minimalDeps(t, t.TempDir()))
	if err == nil {
		t.Fatal("New accepted a damaged key")
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
