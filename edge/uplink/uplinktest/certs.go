package uplinktest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs are PEM files in a temp dir.
type Certs struct {
	Dir                   string
	CA                    string // the broker's and clients' CA
	ServerCert, ServerKey string
	ClientCert, ClientKey string // signed by CA
	OtherCA               string // an unrelated CA (wrong CA for the client)
	RogueCert, RogueKey   string // client certificate signed by OtherCA
}

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func makeCA(t testing.TB, dir, name string) (issuer, string) {
	k := newKey(t)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial + time.Now().UnixNano()%1e6),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	path := filepath.Join(dir, name+".pem")
	writePEM(t, path, "CERTIFICATE", der)
	return issuer{c, k}, path
}

func (is issuer) leaf(t testing.TB, dir, name string, server bool) (certPath, keyPath string) {
	k := newKey(t)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial + time.Now().UnixNano()%1e6 + 1000),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		// 10.0.2.2: the host as a qemu user-net guest sees it (scripts/qemu-gateway.sh).
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 2, 2)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, is.cert, &k.PublicKey, is.key)
	if err != nil {
		t.Fatal(err)
	}
	certPath = filepath.Join(dir, name+".pem")
	keyPath = filepath.Join(dir, name+".key")
	writePEM(t, certPath, "CERTIFICATE", der)
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyPath, "PRIVATE KEY", kd)
	return certPath, keyPath
}

// NewCerts generates a CA with server and client certificates, plus an
// unrelated CA with its own client certificate.
func NewCerts(t testing.TB, dir string) Certs {
	t.Helper()
	c := Certs{Dir: dir}
	ca, caPath := makeCA(t, dir, "ca")
	other, otherPath := makeCA(t, dir, "other-ca")
	c.CA, c.OtherCA = caPath, otherPath
	c.ServerCert, c.ServerKey = ca.leaf(t, dir, "server", true)
	c.ClientCert, c.ClientKey = ca.leaf(t, dir, "client", false)
	c.RogueCert, c.RogueKey = other.leaf(t, dir, "rogue", false)
	return c
}
