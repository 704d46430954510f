package update

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// vendor is a test signing CA and a signing certificate under it.
type vendor struct {
	CA, Cert, Key string // PEM files
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newVendor makes a CA and a signer (what a vendor's release key is).
func newVendor(t *testing.T, name string) vendor {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " update CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name + " release"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageEmailProtection}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	v := vendor{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	writePEM(t, v.CA, "CERTIFICATE", caDER)
	writePEM(t, v.Cert, "CERTIFICATE", leafDER)
	kder, _ := x509.MarshalECPrivateKey(key)
	writePEM(t, v.Key, "EC PRIVATE KEY", kder)
	return v
}

// makeBundle builds a RAUC bundle with the host's rauc (scripts/deps.sh
// installs it) holding image as rootfs.ext4.
func makeBundle(t *testing.T, v vendor, compatible, version string, image []byte) string {
	t.Helper()
	for _, tool := range []string{"rauc", "mksquashfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s missing: run scripts/deps.sh", tool)
		}
	}
	dir := t.TempDir()
	content := filepath.Join(dir, "content")
	os.MkdirAll(content, 0o755)
	os.WriteFile(filepath.Join(content, "rootfs.ext4"), image, 0o644)
	os.WriteFile(filepath.Join(content, "manifest.raucm"), []byte("[update]\ncompatible="+compatible+"\nversion="+version+
		"\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.ext4\n"), 0o644)
	out := filepath.Join(dir, "update.raucb")
	cmd := exec.Command("rauc", "bundle", "--cert="+v.Cert, "--key="+v.Key, "--keyring="+v.CA, "--mksquashfs-args=-comp gzip", content, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rauc bundle: %v\n%s", err, b)
	}
	return out
}
