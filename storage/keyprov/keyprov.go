package keyprov

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgerec/edgerec/hal/fsutil"
	"github.com/edgerec/edgerec/hal/rpiotp"
	"github.com/edgerec/edgerec/hal/tpm"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keys"
)

// Settings say how to reach the hardware that holds the root key
// (storage.key_provider, storage.tpm, storage.tpm_pcrs, storage.otp_device).
type Settings struct {
	Want      string // storage.key_provider: "" = what the ring header says
	TPM       string // device path, unix:PATH or tcp:127.0.0.1:PORT ("" = /dev/tpmrm0)
	TPMPCRs   []int
	OTPDevice string // "" = /dev/vcio
	// OTP replaces the mailbox (tests: a fake at the ioctl boundary).
	OTP rpiotp.Mailbox
}

func (s Settings) mailbox() rpiotp.Mailbox {
	if s.OTP != nil {
		return s.OTP
	}
	return rpiotp.VCIO{Path: s.OTPDevice}
}

// TPMOpener turns storage.tpm into an opener.
func TPMOpener(spec string) tpm.Opener {
	switch {
	case strings.HasPrefix(spec, "unix:"):
		return tpm.Socket("unix", strings.TrimPrefix(spec, "unix:"), true)
	case strings.HasPrefix(spec, "tcp:"):
		return tpm.Socket("tcp", strings.TrimPrefix(spec, "tcp:"), true)
	}
	return tpm.Device(spec) // "" = /dev/tpmrm0
}

func logger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// Providers is storage's provider lookup for the data dir: the file
// provider, the TPM (hal/tpm) and the Raspberry Pi OTP (hal/rpiotp). A
// configured provider that differs from the one the ring header records is
// refused by Check, never silently replaced.
func Providers(dataDir string, s Settings, log *slog.Logger) storage.KeyProviders {
	log = logger(log)
	return func(p storage.Provider) (storage.KeyProvider, error) {
		switch p {
		case storage.ProviderFile:
			return storage.FileKeyProvider(dataDir), nil
		case storage.ProviderTPM2:
			return tpmProvider{t: tpm.New(TPMOpener(s.TPM), log), path: filepath.Join(dataDir, storage.TPMDescriptorFile), pcrs: s.TPMPCRs}, nil
		case storage.ProviderRPiOTP:
			return rpiotp.Provider{OTP: rpiotp.New(s.mailbox()), Path: filepath.Join(dataDir, storage.OTPWrappedFile)}, nil
		}
		return nil, fmt.Errorf("unknown key provider %v", p)
	}
}

// Staged are the providers a rekey creates the new root with: the same
// hardware, the staged file (storage.StagedSuffix), and for a TPM the
// persistent handle the current root does not use.
func Staged(dataDir string, s Settings, log *slog.Logger) storage.KeyProviders {
	log = logger(log)
	return func(p storage.Provider) (storage.KeyProvider, error) {
		staged := filepath.Join(dataDir, storage.KeyFileOf(p)+storage.StagedSuffix)
		switch p {
		case storage.ProviderFile:
			return stagedFile{path: staged}, nil
		case storage.ProviderTPM2:
			handle := tpm.DefaultHandle
			if d, err := tpm.ReadDescriptorFile(filepath.Join(dataDir, storage.TPMDescriptorFile)); err == nil && d.Handle == tpm.DefaultHandle {
				handle = tpm.DefaultHandle + 1
			}
			return tpmProvider{t: tpm.New(TPMOpener(s.TPM), log), path: staged, pcrs: s.TPMPCRs, handle: handle}, nil
		case storage.ProviderRPiOTP:
			return rpiotp.Provider{OTP: rpiotp.New(s.mailbox()), Path: staged}, nil
		}
		return nil, fmt.Errorf("unknown key provider %v", p)
	}
}

// Check refuses a store whose recorded provider differs from the
// configured one (a card from a file-provider demo in a TPM gateway, or the
// reverse): one clear line.
func Check(dataDir string, s Settings) error {
	if s.Want == "" {
		return nil
	}
	want, err := storage.ParseProvider(s.Want)
	if err != nil {
		return err
	}
	got, err := storage.ReadProvider(dataDir)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: the store in %s was provisioned with key provider %s, the config says storage.key_provider: %s; refusing to start (never a fallback)", storage.ErrKeyUnavailable, dataDir, got, want)
	}
	return nil
}

// Open opens the recording store of dataDir with the provider its ring
// header names (o.Keys, if nil, is Providers), timing the unseal, and logs
// which provider holds the key. A root key that cannot be had is one clear
// error (IsFault): no fallback.
func Open(ctx context.Context, dataDir string, s Settings, o storage.Options, log *slog.Logger) (*storage.Store, error) {
	log = logger(log)
	if err := Check(dataDir, s); err != nil && !errors.Is(err, storage.ErrNotProvisioned) {
		return nil, err
	}
	if o.Keys == nil {
		o.Keys = Providers(dataDir, s, log)
	}
	start := time.Now()
	st, err := storage.Open(ctx, dataDir, o)
	if err != nil {
		return nil, err
	}
	p := st.KeyProvider()
	if p == storage.ProviderFile {
		log.Warn("root key provider: file: "+storage.FileProviderWarning, "provider", p.String(), "open_ms", time.Since(start).Milliseconds())
	} else {
		log.Info("root key loaded", "provider", p.String(), "open_ms", time.Since(start).Milliseconds())
	}
	return st, nil
}

// IsFault reports whether err means the root key could not be had from the
// provider the store records (or it gave a key that does not open the
// ring): never a reason to fall back to another provider.
func IsFault(err error) bool {
	return errors.Is(err, storage.ErrKeyUnavailable) || errors.Is(err, storage.ErrWrongKey)
}

// PrepareOTP makes sure the Raspberry Pi OTP holds a device key before the
// root key is wrapped under it. An already programmed key is used as it
// is; programming (irreversible) happens only when confirm is this board's
// serial (provision --program-otp SERIAL). What it did is said on note.
func PrepareOTP(ctx context.Context, s Settings, confirm string, note io.Writer) error {
	o := rpiotp.New(s.mailbox())
	has, err := o.Programmed(ctx)
	if err != nil {
		return fmt.Errorf("rpi-otp: %w", err)
	}
	if has {
		fmt.Fprintln(note, "rpi-otp: the OTP already holds a device key; using it as it is")
		return nil
	}
	if confirm == "" {
		return fmt.Errorf("rpi-otp: %w: the OTP holds no device key; programming it is irreversible: rerun with --program-otp <board serial>", rpiotp.ErrNotProgrammed)
	}
	programmed, err := o.Provision(ctx, confirm)
	if err != nil {
		return fmt.Errorf("rpi-otp: %w", err)
	}
	if programmed {
		fmt.Fprintln(note, "rpi-otp: programmed a new device key into the OTP (irreversible)")
	}
	return nil
}

// tpmProvider keeps the root key in a TPM 2.0 as a persistent sealed
// object; the data dir holds only its descriptor (no secret).
type tpmProvider struct {
	t      *tpm.TPM
	path   string
	pcrs   []int
	handle uint32 // 0 = tpm.DefaultHandle
}

func (p tpmProvider) Create(ctx context.Context) ([]byte, error) {
	if _, err := os.Lstat(p.path); err == nil {
		return nil, fmt.Errorf("%s: %w", p.path, fs.ErrExist)
	}
	d, err := p.t.Provision(ctx, tpm.Config{PCRs: p.pcrs, Handle: p.handle}, nil)
	if err != nil {
		return nil, err
	}
	b, err := d.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(p.path, b, 0o600); err != nil {
		_ = p.t.Destroy(context.WithoutCancel(ctx), d)
		return nil, err
	}
	return p.t.Load(ctx, d)
}

func (p tpmProvider) desc() (tpm.Descriptor, error) {
	d, err := tpm.ReadDescriptorFile(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return d, fmt.Errorf("no TPM root key descriptor %s (destroyed by a wipe, or never provisioned): %w", p.path, err)
	}
	return d, err
}

func (p tpmProvider) Load(ctx context.Context) ([]byte, error) {
	d, err := p.desc()
	if err != nil {
		return nil, err
	}
	return p.t.Load(ctx, d)
}

func (p tpmProvider) Destroy(ctx context.Context) error {
	d, err := p.desc()
	if err != nil {
		return err
	}
	return p.t.Destroy(ctx, d)
}

// stagedFile is the file provider at the staged path.
type stagedFile struct{ path string }

func (f stagedFile) Create(context.Context) ([]byte, error) { return keys.CreateFileRoot(f.path) }
func (f stagedFile) Load(ctx context.Context) ([]byte, error) {
	return keys.FileRoot{Path: f.path}.Load(ctx)
}
func (f stagedFile) Destroy(ctx context.Context) error {
	return keys.FileRoot{Path: f.path}.Destroy(ctx)
}
