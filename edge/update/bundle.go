package update

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/edgerec/edgerec/policy/kind"
)

// Errors (wrapped with the reason). Their messages are safe to show.
var (
	// ErrBundle: not a RAUC bundle, truncated, or its signature does not
	// verify against the vendor keyring.
	ErrBundle = kind.New(kind.Invalid, "update: bundle refused")
	// ErrManifest: the manifest inside a signed bundle is malformed or
	// does not fit this device.
	ErrManifest = kind.New(kind.Invalid, "update: manifest refused")
	// ErrBusy: an installation is running or a new slot waits for its
	// first healthy boot.
	ErrBusy = kind.New(kind.Conflict, "update: busy")
	// ErrNoBundle: no uploaded bundle has that digest.
	ErrNoBundle = kind.New(kind.Conflict, "update: no such uploaded bundle")
	// ErrUnavailable: the device has no update support (no keyring or no
	// boot chooser).
	ErrUnavailable = kind.New(kind.Unavailable, "update: not available on this device")
)

// maxSigSize bounds the CMS signature (RAUC's limit is 64 KiB as well).
const maxSigSize = 64 << 10

// Bundle is a verified bundle.
type Bundle struct {
	Path        string
	Size        int64  // the whole file
	ContentSize int64  // the squashfs part (what the signature covers)
	Digest      string // SHA-256 of the whole file, lowercase hex
	Signer      string // the signing certificate's subject
}

// LoadKeyring reads a PEM file of CA certificates (the vendor keyring).
func LoadKeyring(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("update: keyring: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("update: keyring %s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("update: keyring %s: no certificate", path)
	}
	return pool, nil
}

// sectionHasher hashes a section of the bundle file for the CMS check
// instead of the (empty) in-memory content.
type sectionHasher struct{ r io.Reader }

func (h sectionHasher) Hash(fn crypto.Hash, _ io.Reader) ([]byte, error) {
	if fn != crypto.SHA256 && fn != crypto.SHA384 && fn != crypto.SHA512 {
		return nil, fmt.Errorf("digest %v not accepted", fn)
	}
	d := fn.New()
	if _, err := io.Copy(d, h.r); err != nil {
		return nil, err
	}
	return d.Sum(nil), nil
}

// Verify checks the bundle at path: the trailer, the CMS signature over
// the squashfs part against roots at now, the signer chaining to roots. It
// reads the file twice (signature, digest) and never holds it in memory.
func Verify(path string, roots *x509.CertPool, now time.Time) (Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return Bundle{}, fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Bundle{}, fmt.Errorf("update: %w", err)
	}
	b, err := verifyReader(f, st.Size(), roots, now)
	if err != nil {
		return Bundle{}, err
	}
	b.Path = path
	return b, nil
}

type readerAt = io.ReaderAt

func verifyReader(f readerAt, size int64, roots *x509.CertPool, now time.Time) (Bundle, error) {
	sig, content, err := splitBundle(f, size)
	if err != nil {
		return Bundle{}, err
	}
	if err := checkSquashfs(f, content); err != nil {
		return Bundle{}, err
	}
	p7, err := pkcs7.Parse(sig)
	if err != nil {
		return Bundle{}, fmt.Errorf("%w: signature is not CMS: %v", ErrBundle, err)
	}
	if len(p7.Content) != 0 {
		return Bundle{}, fmt.Errorf("%w: signature is not detached", ErrBundle)
	}
	if len(p7.Signers) != 1 {
		return Bundle{}, fmt.Errorf("%w: want exactly one signer, have %d", ErrBundle, len(p7.Signers))
	}
	p7.Hasher = sectionHasher{r: io.NewSectionReader(f, 0, content)}
	if err := p7.VerifyWithChainAtTime(roots, now); err != nil {
		return Bundle{}, fmt.Errorf("%w: signature does not verify against the vendor keyring: %v", ErrBundle, err)
	}
	b := Bundle{Size: size, ContentSize: content}
	if c := p7.GetOnlySigner(); c != nil {
		b.Signer = c.Subject.String()
	}
	d := sha256.New()
	if _, err := io.Copy(d, io.NewSectionReader(f, 0, size)); err != nil {
		return Bundle{}, fmt.Errorf("update: %w", err)
	}
	b.Digest = hex.EncodeToString(d.Sum(nil))
	return b, nil
}

// splitBundle reads the trailer: the signature and the length of the
// content before it.
func splitBundle(f readerAt, size int64) (sig []byte, content int64, err error) {
	if size < 8+1 {
		return nil, 0, fmt.Errorf("%w: %d bytes is too short for a bundle (truncated?)", ErrBundle, size)
	}
	var tr [8]byte
	if _, err := f.ReadAt(tr[:], size-8); err != nil {
		return nil, 0, fmt.Errorf("%w: trailer: %v", ErrBundle, err)
	}
	n := binary.BigEndian.Uint64(tr[:])
	if n == 0 {
		return nil, 0, fmt.Errorf("%w: unsigned (signature size 0)", ErrBundle)
	}
	if n > maxSigSize || int64(n) > size-8 {
		return nil, 0, fmt.Errorf("%w: no signature trailer (unsigned or truncated bundle; trailer says %d signature bytes)", ErrBundle, n)
	}
	content = size - 8 - int64(n)
	sig = make([]byte, n)
	if _, err := f.ReadAt(sig, content); err != nil {
		return nil, 0, fmt.Errorf("%w: signature: %v", ErrBundle, err)
	}
	return sig, content, nil
}

// checkSquashfs checks the content starts with a squashfs superblock whose
// bytes_used fits the signed content.
func checkSquashfs(f readerAt, content int64) error {
	var sb [96]byte
	if content < int64(len(sb)) {
		return fmt.Errorf("%w: content of %d bytes is not a squashfs image", ErrBundle, content)
	}
	if _, err := f.ReadAt(sb[:], 0); err != nil {
		return fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if !bytes.Equal(sb[:4], []byte("hsqs")) {
		return fmt.Errorf("%w: content is not a squashfs image", ErrBundle)
	}
	used := int64(binary.LittleEndian.Uint64(sb[40:48]))
	if used <= 0 || used > content {
		return fmt.Errorf("%w: squashfs claims %d bytes, the signed content has %d", ErrBundle, used, content)
	}
	return nil
}
