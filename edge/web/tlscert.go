package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sealer seals secrets at rest under the device's root key; the daemon
// passes the storage vault (*keys.Vault). A sealed value opens only on the
// device that sealed it and only under the name it was sealed for.
type Sealer interface {
	Seal(name string, plain []byte) ([]byte, error)
	Open(name string, sealed []byte) ([]byte, error)
}

// Files of the device certificate, under <DataDir>/tls (issue 13, R32): the
// private key is sealed under the vault; the certificate (public) is kept
// as DER, so no PEM block lies in the data dir.
const (
	tlsDirName   = "tls"
	certFileName = "cert.der"
	keyFileName  = "key.sealed"
	// Files of firmware before issue 13: migrated (sealed) at the next
	// start, then overwritten and removed.
	legacyCertFileName = "cert.pem"
	legacyKeyFileName  = "key.pem"

	// VaultTLSKey is the vault name of the sealed TLS key (PKCS#8 DER).
	VaultTLSKey = "tls/key"

	// certLifetime stays below the 398/825-day limits that browsers (Chrome,
	// Apple platforms) apply to server certificates, so a technician's phone
	// can still click through the self-signed warning.
	certLifetime = 397 * 24 * time.Hour
	// certRenewBefore renews the certificate (same key) this long before it
	// expires, at the next start. The fingerprint changes then and is logged.
	certRenewBefore = 30 * 24 * time.Hour
	// certBackdate covers small clock differences between device and phone.
	certBackdate = 48 * time.Hour
)

// deviceCert is the loaded device certificate.
type deviceCert struct {
	tls         tls.Certificate
	leaf        *x509.Certificate
	fingerprint string
}

// loadOrCreateCert loads the device certificate from <dataDir>/tls, creating
// the directory (0700), the sealed key (0600) and the certificate on first
// start. An existing key is never replaced; an expired or nearly expired
// certificate is re-issued for the same key. A key that does not open under
// sealer (damaged, or sealed on another device) or a certificate that
// cannot be parsed is an error, not a reason to silently mint a new
// identity. A key.pem of older firmware is sealed and removed (same key,
// same fingerprint).
func loadOrCreateCert(dataDir, deviceID string, now time.Time, sealer Sealer, log *slog.Logger) (*deviceCert, error) {
	if sealer == nil {
		return nil, errors.New("web: no sealer for the TLS key (the vault is required)")
	}
	dir := filepath.Join(dataDir, tlsDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("web: create tls dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("web: restrict tls dir: %w", err)
	}
	keyPath := filepath.Join(dir, keyFileName)
	certPath := filepath.Join(dir, certFileName)
	if err := migrateLegacyTLS(dir, sealer, log); err != nil {
		return nil, err
	}

	key, err := loadKey(keyPath, sealer)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("web: generate tls key: %w", err)
		}
		if err := writeSealedKey(keyPath, key, sealer); err != nil {
			return nil, err
		}
		// A certificate left over from another key is worthless.
		if err := os.Remove(certPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("web: remove stale certificate: %w", err)
		}
		log.Info("web: created device TLS key (sealed)", "path", keyPath)
	case err != nil:
		return nil, err
	}

	leaf, certDER, err := loadCert(certPath, key)
	reason := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = "first start"
	case err != nil:
		return nil, err
	case now.After(leaf.NotAfter.Add(-certRenewBefore)):
		reason = "expired or about to expire"
	}
	if leaf != nil && !certCoversDevice(leaf, deviceID) {
		log.Warn("web: device certificate does not name the device id; keeping it (delete the tls directory to re-issue)",
			"device", deviceID, "dns_names", leaf.DNSNames)
	}
	if reason != "" {
		certDER, err = issueCert(key, deviceID, now)
		if err != nil {
			return nil, err
		}
		if err := fsutil.WriteFile(certPath, certDER, 0o644); err != nil {
			return nil, fmt.Errorf("web: write certificate: %w", err)
		}
		if leaf, err = x509.ParseCertificate(certDER); err != nil {
			return nil, fmt.Errorf("web: parse new certificate: %w", err)
		}
		log.Info("web: issued device certificate", "reason", reason, "path", certPath,
			"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &deviceCert{
		tls:         tls.Certificate{Certificate: [][]byte{certDER}, PrivateKey: key, Leaf: leaf},
		leaf:        leaf,
		fingerprint: fingerprint(certDER),
	}, nil
}

// writeSealedKey seals key (PKCS#8 DER) under VaultTLSKey and writes it
// atomically with mode 0600.
func writeSealedKey(path string, key *ecdsa.PrivateKey, sealer Sealer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("web: marshal tls key: %w", err)
	}
	sealed, err := sealer.Seal(VaultTLSKey, der)
	clear(der)
	if err != nil {
		return fmt.Errorf("web: seal tls key: %w", err)
	}
	if err := fsutil.WriteFile(path, sealed, 0o600); err != nil {
		return fmt.Errorf("web: write tls key: %w", err)
	}
	return nil
}

// migrateLegacyTLS seals the key.pem of firmware before issue 13 into
// key.sealed and converts cert.pem to cert.der (so the fingerprint a
// technician recorded stays valid), then overwrites and removes the PEM
// files. A key.pem next to an existing key.sealed is what an interrupted
// migration leaves: the sealed key wins. A damaged key.pem is an error.
func migrateLegacyTLS(dir string, sealer Sealer, log *slog.Logger) error {
	legacyKey := filepath.Join(dir, legacyKeyFileName)
	legacyCert := filepath.Join(dir, legacyCertFileName)
	data, err := os.ReadFile(legacyKey)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("web: read legacy tls key: %w", err)
	default:
		keyPath := filepath.Join(dir, keyFileName)
		if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
			key, err := parsePEMKey(data, legacyKey)
			clear(data)
			if err != nil {
				return err
			}
			if cp, err := os.ReadFile(legacyCert); err == nil {
				if b, _ := pem.Decode(cp); b != nil && b.Type == "CERTIFICATE" {
					if err := fsutil.WriteFile(filepath.Join(dir, certFileName), b.Bytes, 0o644); err != nil {
						return fmt.Errorf("web: write certificate: %w", err)
					}
				}
			}
			if err := writeSealedKey(keyPath, key, sealer); err != nil {
				return err
			}
			log.Info("web: sealed the device TLS key of older firmware (same key, same certificate)", "path", keyPath)
		} else if err != nil {
			return fmt.Errorf("web: tls key: %w", err)
		}
		if err := scrubFile(legacyKey); err != nil {
			return fmt.Errorf("web: remove legacy tls key: %w", err)
		}
	}
	if err := scrubFile(legacyCert); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("web: remove legacy certificate: %w", err)
	}
	return nil
}

// scrubFile overwrites path with zeros, syncs and removes it (best effort
// against recovery on flash media with wear levelling).
func scrubFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil {
		_, _ = f.WriteAt(make([]byte, st.Size()), 0)
		_ = f.Sync()
	}
	_ = f.Close()
	if err := os.Remove(path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// loadKey opens the sealed key at path. A missing file wraps
// fs.ErrNotExist; a value that does not open (another device's vault,
// damage) is an error.
func loadKey(path string, sealer Sealer) (*ecdsa.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("web: tls key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("web: restrict tls key: %w", err)
		}
	}
	sealed, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("web: read tls key: %w", err)
	}
	der, err := sealer.Open(VaultTLSKey, sealed)
	if err != nil {
		return nil, fmt.Errorf("web: tls key %s: %w (refusing to replace it)", path, err)
	}
	defer clear(der)
	return parseKeyDER(der, path)
}

func parsePEMKey(data []byte, path string) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("web: tls key %s: no PKCS#8 PEM block", path)
	}
	return parseKeyDER(block.Bytes, path)
}

func parseKeyDER(der []byte, path string) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("web: parse tls key %s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("web: tls key %s is not ECDSA P-256", path)
	}
	return ek, nil
}

// loadCert reads the certificate (DER) and checks that it belongs to key.
func loadCert(path string, key *ecdsa.PrivateKey) (*x509.Certificate, []byte, error) {
	der, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("web: read certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("web: parse certificate %s: %w", path, err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, fmt.Errorf("web: certificate %s does not match the device key", path)
	}
	return leaf, der, nil
}

// issueCert self-signs a server certificate for the device.
func issueCert(key *ecdsa.PrivateKey, deviceID string, now time.Time) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("web: certificate serial: %w", err)
	}
	dns := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if a, err := netip.ParseAddr(deviceID); err == nil {
		ips = append(ips, a.AsSlice())
	} else if validDNSName(deviceID) && deviceID != "localhost" {
		dns = append(dns, strings.ToLower(deviceID))
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "edgerec " + deviceID, Organization: []string{"edgerec"}},
		NotBefore:             now.Add(-certBackdate),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("web: create certificate: %w", err)
	}
	return der, nil
}

// validDNSName reports whether s can go into a dNSName SAN: ASCII letters,
// digits, '-', '_' and dots between non-empty labels.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}

func certCoversDevice(leaf *x509.Certificate, deviceID string) bool {
	if deviceID == "" {
		return true
	}
	return leaf.VerifyHostname(deviceID) == nil
}

// fingerprint is the SHA-256 of the certificate DER as colon-separated
// upper-case hex, the form browsers show in their certificate viewers.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// ProvisionCertificate creates (or loads) the device's TLS certificate at
// provisioning, the key sealed by sealer (the vault), and returns the
// SHA-256 fingerprint of the certificate DER, which `edgerec provision`
// prints so a technician can check what the browser shows.
func ProvisionCertificate(dataDir, deviceID string, now time.Time, sealer Sealer) (string, error) {
	c, err := loadOrCreateCert(dataDir, deviceID, now, sealer, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	return c.fingerprint, nil
}
