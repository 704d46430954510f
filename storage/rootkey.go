package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/ring"
)

// Provider says where the root key lives (issue 13, R32). It is chosen at
// provisioning and recorded in the ring header; Open asks that provider and
// no other.
type Provider = ring.Provider

// Key providers.
const (
	ProviderFile   = ring.ProviderFile   // root.key, a 0600 file: demo and development only
	ProviderTPM2   = ring.ProviderTPM2   // sealed in a TPM 2.0 (hal/tpm)
	ProviderRPiOTP = ring.ProviderRPiOTP // wrapped under the Raspberry Pi OTP key (hal/rpiotp)
)

// ParseProvider parses "file", "tpm2" or "rpi-otp" ("" is file).
func ParseProvider(s string) (Provider, error) {
	p, err := ring.ParseProvider(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return p, nil
}

// Files in the data directory that hold the root key or what names it. None
// of them holds a secret except RootKeyFile (file provider).
const (
	TPMDescriptorFile = "root.tpm" // tpm2: handle and names of the sealed object (no secret)
	OTPWrappedFile    = "root.otp" // rpi-otp: the root key wrapped under the OTP key
)

// providerFiles are the files a provider keeps in the data directory,
// including those a rekey stages (rekey.go).
var providerFiles = []string{RootKeyFile, TPMDescriptorFile, OTPWrappedFile,
	RootKeyFile + StagedSuffix, TPMDescriptorFile + StagedSuffix, OTPWrappedFile + StagedSuffix}

// KeyProvider creates, loads and destroys the root key. The composition
// root (cmd/edgerec) builds one per provider from hal/tpm and hal/rpiotp;
// storage knows only the file provider itself.
type KeyProvider interface {
	// Create makes a new root key and returns it (provisioning, rekey).
	Create(ctx context.Context) ([]byte, error)
	// Load returns the root key.
	Load(ctx context.Context) ([]byte, error)
	// Destroy makes the root key unrecoverable through this provider.
	Destroy(ctx context.Context) error
}

// KeyProviders returns the provider for p, configured for one data
// directory. A nil KeyProviders knows only the file provider.
type KeyProviders func(p Provider) (KeyProvider, error)

// ErrKeyUnavailable: the root key could not be had from the provider the
// store was provisioned with (no TPM, another TPM, lockout, PCR mismatch,
// OTP not programmed, mailbox refused, key destroyed). Never a reason to
// fall back to another provider.
var ErrKeyUnavailable = errors.New("storage: root key unavailable")

// FileKeyProvider is the file provider for the data directory dir.
func FileKeyProvider(dir string) KeyProvider {
	return fileProvider{path: filepath.Join(dir, RootKeyFile)}
}

type fileProvider struct{ path string }

func (f fileProvider) Create(context.Context) ([]byte, error) { return keys.CreateFileRoot(f.path) }
func (f fileProvider) Load(ctx context.Context) ([]byte, error) {
	return keys.FileRoot{Path: f.path}.Load(ctx)
}
func (f fileProvider) Destroy(ctx context.Context) error {
	return keys.FileRoot{Path: f.path}.Destroy(ctx)
}

// provider resolves p for dir through ps (nil: file only).
func provider(dir string, ps KeyProviders, p Provider) (KeyProvider, error) {
	if ps != nil {
		kp, err := ps(p)
		if err != nil {
			return nil, fmt.Errorf("%w: the store's root key is in %s: %w", ErrKeyUnavailable, p, err)
		}
		return kp, nil
	}
	if p == ProviderFile {
		return FileKeyProvider(dir), nil
	}
	return nil, fmt.Errorf("%w: the store's root key is in %s, and no %s provider was configured", ErrKeyUnavailable, p, p)
}

// loadRoot loads the root key of the ring described by h and checks it
// against the header's key check value.
func loadRoot(ctx context.Context, dir string, ps KeyProviders, h ring.Header) ([]byte, error) {
	kp, err := provider(dir, ps, h.Provider)
	if err != nil {
		return nil, err
	}
	root, err := kp.Load(ctx)
	if err != nil {
		if h.Provider == ProviderFile {
			if errors.Is(err, keys.ErrErased) {
				return nil, fmt.Errorf("%w: %w", ErrNotProvisioned, err)
			}
			if errors.Is(err, keys.ErrCorrupt) {
				return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
		}
		return nil, fmt.Errorf("%w (%s): %w", ErrKeyUnavailable, h.Provider, err)
	}
	if err := keys.CheckKCV(root, h.RingID, h.KCV); err != nil {
		clear(root)
		return nil, fmt.Errorf("%w: the %s provider gave a key that does not open this ring: %w", ErrWrongKey, h.Provider, err)
	}
	return root, nil
}

// ReadProvider returns the key provider recorded in the ring header of the
// store in dir.
func ReadProvider(dir string) (Provider, error) {
	h, err := readHeader(dir)
	if err != nil {
		return 0, err
	}
	return h.Provider, nil
}

func readHeader(dir string) (ring.Header, error) {
	if err := checkWiped(dir); err != nil {
		return ring.Header{}, err
	}
	if exists(filepath.Join(dir, RekeyMarkerFile)) {
		return ring.Header{}, ErrRekeyInProgress
	}
	h, err := ring.ReadHeader(filepath.Join(dir, RingFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return h, fmt.Errorf("%w: %s has no %s", ErrNotProvisioned, dir, RingFile)
	case errors.Is(err, ring.ErrCorrupt):
		return h, fmt.Errorf("%w: ring header: %w", ErrCorrupt, err)
	case err != nil:
		return h, fmt.Errorf("storage: %w", err)
	}
	return h, nil
}

// OpenVault returns the vault of the store in dir (sealed secrets: device
// key, TLS and uplink keys, camera credentials, password hashes) without
// opening the ring or index, for commands that run next to a stopped or
// running recorder. It loads the root key from the recorded provider.
func OpenVault(ctx context.Context, dir string, ps KeyProviders) (*keys.Vault, error) {
	h, err := readHeader(dir)
	if err != nil {
		return nil, err
	}
	root, err := loadRoot(ctx, dir, ps, h)
	if err != nil {
		return nil, err
	}
	defer clear(root)
	ks, err := keys.Open(filepath.Join(dir, KeysDir), root, true)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	v, err := ks.Vault()
	if err != nil {
		if errors.Is(err, keys.ErrErased) {
			return nil, fmt.Errorf("%w: no vault key (provisioned before sealed secrets; open the store once with `edgerec run`)", ErrNotProvisioned)
		}
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return v, nil
}

// removeIfExists removes path; a missing file is not an error.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Vault returns the store's vault of sealed secrets (nil only for a
// read-only open of a store provisioned before the vault existed).
func (s *Store) Vault() *keys.Vault { return s.vault }

// KeyProvider returns where the store's root key lives.
func (s *Store) KeyProvider() Provider { return s.hdr.Provider }

// FileProviderWarning is what the page, the health API, beacons, `check`
// and the log say about the file provider (issue 13).
const FileProviderWarning = "keys on disk: not protected against theft of the disk"

// ProviderNote is a one-line description of a provider for reports.
func ProviderNote(p string) string {
	switch p {
	case ProviderFile.String():
		return "file (" + FileProviderWarning + ")"
	case ProviderTPM2.String():
		return "tpm2 (sealed in this board's TPM 2.0)"
	case ProviderRPiOTP.String():
		return "rpi-otp (wrapped under this board's OTP key)"
	}
	return p
}
