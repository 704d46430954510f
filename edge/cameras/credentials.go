package cameras

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/edgerec/edgerec/edge/config"
)

// Sealer is the vault of sealed secrets ((*keys.Vault) of the store; issue
// 13, R32).
type Sealer interface {
	Seal(name string, plain []byte) ([]byte, error)
	Open(name string, sealed []byte) ([]byte, error)
}

// VaultDir is the directory, in the data dir, of the sealed items the
// config refers to: <data>/vault/<name>, e.g. vault/camera/cam1/password,
// each file one value sealed by the vault for that name (0600).
const VaultDir = "vault"

// errNoCredential means the vault has no item for a reference.
var errNoCredential = errors.New("no such item in the vault")

// vaultItemName: slash-separated segments of a-z, 0-9, '-', '_', '.'
// (no segment of dots only), e.g. camera/cam1/password.
var vaultItemName = regexp.MustCompile(`^[a-z0-9_-][a-z0-9_.-]*(/[a-z0-9_-][a-z0-9_.-]*)*$`)

// credStore keeps camera passwords sealed in <data>/vault (the config keeps
// only "vault:camera/<id>/password").
type credStore struct {
	dir string // <data>/vault
	v   Sealer
}

func newCredStore(dataDir string, v Sealer) *credStore {
	return &credStore{dir: filepath.Join(dataDir, VaultDir), v: v}
}

// SealPasswords moves the inline camera passwords of c into the vault of
// the data dir (provision --config); c keeps references (issue 13, R32).
// It returns how many it moved.
func SealPasswords(dataDir string, c *config.Config, v Sealer) (int, error) {
	if !slices.ContainsFunc(c.Cameras, config.Camera.InlinePassword) {
		return 0, nil
	}
	creds := newCredStore(dataDir, v)
	n := 0
	for i := range c.Cameras {
		sealed, err := creds.takePassword(&c.Cameras[i])
		if err != nil {
			return n, err
		}
		if sealed == nil {
			continue
		}
		if err := creds.putSealed(config.CredentialName(c.Cameras[i].ID), sealed); err != nil {
			return n, fmt.Errorf("camera %s: password: %w", c.Cameras[i].ID, err)
		}
		n++
	}
	return n, nil
}

func (s *credStore) path(name string) (string, error) {
	if len(name) > 200 || !vaultItemName.MatchString(name) || strings.Contains(name, "..") {
		return "", fmt.Errorf("vault item name %q is not valid", name)
	}
	return filepath.Join(s.dir, filepath.FromSlash(name)), nil
}

// seal seals plain for name without storing it (see putSealed).
func (s *credStore) seal(name string, plain []byte) ([]byte, error) {
	if s == nil || s.v == nil {
		return nil, errors.New("this device has no vault to keep the password in")
	}
	return s.v.Seal(name, plain)
}

// putSealed stores a value sealed for name (atomically, 0600).
func (s *credStore) putSealed(name string, sealed []byte) error {
	if s == nil {
		return errors.New("this device has no vault to keep the password in")
	}
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if err := writeFileAtomic(p, sealed, 0o600); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}

// get opens the item name; a missing item is errNoCredential.
func (s *credStore) get(name string) ([]byte, error) {
	if s == nil || s.v == nil {
		return nil, errors.New("this device has no vault")
	}
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	sealed, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoCredential
	}
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return s.v.Open(name, sealed)
}

// remove deletes the item name (a missing one is not an error).
func (s *credStore) remove(name string) error {
	if s == nil {
		return nil
	}
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("vault: %w", err)
	}
	return nil
}

// takePassword moves an inline password out of c: c.Source loses it (the
// user name stays), c.Credential refers to the camera's vault item, and
// the password comes back sealed for that item (nil when c.Source has no
// password). Nothing is stored: putSealed does that when the change is
// committed.
func (s *credStore) takePassword(c *config.Camera) ([]byte, error) {
	stripped, pw, err := config.SplitPassword(c.Source)
	if errors.Is(err, config.ErrNoPassword) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", c.ID, err)
	}
	sealed, err := s.seal(config.CredentialName(c.ID), []byte(pw))
	if err != nil {
		return nil, fmt.Errorf("camera %s: password: %w", c.ID, err)
	}
	c.Source, c.Credential = stripped, config.CredentialRef(c.ID)
	return sealed, nil
}

// credentialError is a camera whose credential cannot be resolved: that
// camera does not start, the others do.
type credentialError struct {
	camera, ref string
	err         error
}

func (e *credentialError) Error() string {
	return fmt.Sprintf("camera %s: credential %s: %v (give the password again on the LAN page, or write it inline in the source in edgerec.yaml: the device moves it into the vault at start)", e.camera, e.ref, e.err)
}

func (e *credentialError) Unwrap() error { return e.err }

// sourceURL is the URL camera c opens: its source with the password from
// the vault when it has a credential. The result must never be stored,
// logged or shown. A source that still holds an inline password (the
// config could not be rewritten) is used as it is.
func (s *credStore) sourceURL(c *config.Camera) (string, error) {
	return s.withCredential(c, c.Source)
}

// subSourceURL is sourceURL for the camera's sub stream ("" if none): the
// camera's credential applies to it (issue 18).
func (s *credStore) subSourceURL(c *config.Camera) (string, error) {
	if c.SubSource == "" {
		return "", nil
	}
	if c.InlinePassword() {
		// The main URL carries the password (not yet sealed): reuse it.
		_, pw, _ := config.SplitPassword(c.Source)
		u, err := config.WithPassword(c.SubSource, pw)
		return string(u), err
	}
	return s.withCredential(c, c.SubSource)
}

func (s *credStore) withCredential(c *config.Camera, src config.URL) (string, error) {
	if c.Credential == "" || c.InlinePassword() {
		return string(src), nil
	}
	pw, err := s.get(c.VaultName())
	if err != nil {
		return "", &credentialError{camera: c.ID, ref: c.Credential, err: err}
	}
	defer clear(pw)
	u, err := config.WithPassword(src, string(pw))
	if err != nil {
		return "", &credentialError{camera: c.ID, ref: c.Credential, err: err}
	}
	return string(u), nil
}
