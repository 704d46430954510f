package update

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Grants consumes an approved update grant (policy.Store.UseUpdate): the
// grant must be active, for exactly digest, and unused; the use is
// audited citing the grant.
type Grants interface {
	UseUpdate(ctx context.Context, id, actorID, digest string) error
}

// Config configures the updater.
type Config struct {
	// Dir holds the uploaded bundle (on the data partition).
	Dir string
	// Keyring is the vendor CA file (PEM).
	Keyring string
	// Compatible must equal the manifest's [update] compatible.
	Compatible string
	// SlotClass is the image class written to the root slot ("rootfs").
	SlotClass string
	// MaxSize bounds an uploaded bundle (default 512 MiB).
	MaxSize int64
	// SystemVersion is the running system's version (from the root's
	// /etc/edgerec/system-version), reported in Status.
	SystemVersion string
	// RebootDelay is the pause between a finished install and the reboot
	// (default 3 s: the page sees the result).
	RebootDelay time.Duration
}

// Deps are the updater's collaborators.
type Deps struct {
	Chooser Chooser
	Grants  Grants
	// Healthy reports whether the recorder has sealed a segment since
	// start.
	Healthy func() bool
	// Reboot reboots the board.
	Reboot func() error
	Logger *slog.Logger
	Now    func() time.Time
}

// Staged is a verified uploaded bundle waiting for approval.
type Staged struct {
	Digest     string `json:"digest"`
	Version    string `json:"version"`
	Compatible string `json:"compatible"`
	Signer     string `json:"signer"`
	Size       int64  `json:"size"`
}

// Status is what the LAN page and the beacons show.
type Status struct {
	Slot    string  `json:"slot"`           // running slot
	System  string  `json:"system_version"` // running system version
	Trial   bool    `json:"trial"`          // the running slot waits for its first healthy run
	State   string  `json:"state"`          // idle, staged, installing, installed, failed
	Staged  *Staged `json:"staged,omitempty"`
	Target  string  `json:"target,omitempty"` // slot being / just written
	Message string  `json:"message,omitempty"`
	// LastTrialFailure is what the supervisor kept when the last slot on
	// trial failed (why it was rolled back: edgerec's last lines), until
	// the next install.
	LastTrialFailure string `json:"last_trial_failure,omitempty"`
}

// TrialFailureFile is the file in Config.Dir where the gateway's
// supervisor keeps edgerec's last lines when a slot on trial fails
// (buildroot/board/edgerec/common/overlay/usr/libexec/edgerec/supervise).
const TrialFailureFile = "trial-failure.log"

// maxTrialFailure bounds what Status carries of that file.
const maxTrialFailure = 8 << 10

// Updater stages, installs and confirms updates. Safe for concurrent use.
type Updater struct {
	cfg   Config
	deps  Deps
	roots *x509.CertPool
	log   *slog.Logger

	mu     sync.Mutex
	status Status
	staged *Bundle
}

// New checks the keyring and the running slot.
func New(ctx context.Context, cfg Config, deps Deps) (*Updater, error) {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 512 << 20
	}
	if cfg.SlotClass == "" {
		cfg.SlotClass = "rootfs"
	}
	if cfg.RebootDelay == 0 {
		cfg.RebootDelay = 3 * time.Second
	}
	if cfg.Compatible == "" || cfg.Dir == "" || deps.Chooser == nil || deps.Grants == nil || deps.Healthy == nil || deps.Reboot == nil {
		return nil, fmt.Errorf("%w: incomplete configuration", ErrUnavailable)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	roots, err := LoadKeyring(cfg.Keyring)
	if err != nil {
		return nil, err
	}
	slot, err := deps.Chooser.Current(ctx)
	if err != nil {
		return nil, err
	}
	// Whether this slot is on trial is asked again by Run once the
	// recorder is healthy: a boot chooser that fails now (the boot
	// partition busy, a slow start) must not leave a good slot unconfirmed
	// and rolled back.
	trial, err := deps.Chooser.Trial(ctx)
	if err != nil {
		deps.Logger.Warn("update: is this slot on trial? the boot chooser failed; asking again once healthy", "err", err)
		trial = false
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	// An upload from before a restart is not trusted: upload it again.
	_ = os.Remove(filepath.Join(cfg.Dir, "staged.raucb"))
	_ = os.Remove(filepath.Join(cfg.Dir, "upload.tmp"))
	u := &Updater{cfg: cfg, deps: deps, roots: roots, log: deps.Logger,
		status: Status{Slot: slot, System: cfg.SystemVersion, Trial: trial, State: "idle"}}
	if !trial {
		if b, err := os.ReadFile(filepath.Join(cfg.Dir, TrialFailureFile)); err == nil && len(b) > 0 {
			if len(b) > maxTrialFailure {
				b = b[len(b)-maxTrialFailure:]
			}
			u.status.LastTrialFailure = strings.ToValidUTF8(string(b), "?")
			u.log.Warn("update: the last slot on trial failed and was rolled back", "slot", slot,
				"why", firstLine(u.status.LastTrialFailure))
		}
	}
	return u, nil
}

// Status returns the current state.
func (u *Updater) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.status
	if s.Staged != nil {
		st := *s.Staged
		s.Staged = &st
	}
	return s
}

func (u *Updater) set(fn func(*Status)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fn(&u.status)
}

// Stage stores an uploaded bundle, verifies its signature and manifest and
// keeps it for an approval (one at a time; a new upload replaces it). A
// refused bundle is deleted; nothing else changes.
func (u *Updater) Stage(ctx context.Context, r io.Reader) (Staged, error) {
	u.mu.Lock()
	if u.status.State == "installing" || u.status.State == "installed" {
		u.mu.Unlock()
		return Staged{}, fmt.Errorf("%w: an update is being installed", ErrBusy)
	}
	if u.status.Trial {
		u.mu.Unlock()
		return Staged{}, fmt.Errorf("%w: the running slot %s is still on trial (not yet healthy)", ErrBusy, u.status.Slot)
	}
	u.mu.Unlock()
	tmp := filepath.Join(u.cfg.Dir, "upload.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return Staged{}, fmt.Errorf("update: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, u.cfg.MaxSize+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return Staged{}, fmt.Errorf("update: upload: %w", err)
	}
	if n > u.cfg.MaxSize {
		os.Remove(tmp)
		return Staged{}, fmt.Errorf("%w: larger than %d bytes", ErrBundle, u.cfg.MaxSize)
	}
	b, m, err := u.check(ctx, tmp)
	if err != nil {
		os.Remove(tmp)
		return Staged{}, err
	}
	final := filepath.Join(u.cfg.Dir, "staged.raucb")
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return Staged{}, fmt.Errorf("update: %w", err)
	}
	b.Path = final
	st := Staged{Digest: b.Digest, Version: m.Version, Compatible: m.Compatible, Signer: b.Signer, Size: b.Size}
	u.mu.Lock()
	u.staged = &b
	u.status.State, u.status.Staged, u.status.Message, u.status.Target = "staged", &st, "waiting for approval", ""
	u.mu.Unlock()
	u.log.Info("update: bundle staged", "version", m.Version, "digest", b.Digest, "signer", b.Signer)
	return st, nil
}

// check verifies path and reads its manifest.
func (u *Updater) check(ctx context.Context, path string) (Bundle, Manifest, error) {
	b, err := Verify(path, u.roots, u.deps.Now())
	if err != nil {
		return Bundle{}, Manifest{}, err
	}
	var m Manifest
	err = u.withMounted(b, func(dir string) error {
		var err error
		m, err = readManifest(dir)
		if err != nil {
			return err
		}
		if m.Compatible != u.cfg.Compatible {
			return fmt.Errorf("%w: compatible %q, this device is %q", ErrManifest, m.Compatible, u.cfg.Compatible)
		}
		img, ok := m.Images[u.cfg.SlotClass]
		if !ok {
			return fmt.Errorf("%w: no [image.%s]", ErrManifest, u.cfg.SlotClass)
		}
		fi, err := os.Stat(filepath.Join(dir, img.Filename))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != img.Size {
			return fmt.Errorf("%w: image %s missing or not %d bytes", ErrManifest, img.Filename, img.Size)
		}
		return nil
	})
	return b, m, err
}

func (u *Updater) withMounted(b Bundle, fn func(dir string) error) error {
	dir := filepath.Join(u.cfg.Dir, "mnt")
	umount, err := mountSquashfs(b.Path, b.ContentSize, dir)
	if err != nil {
		return err
	}
	ferr := fn(dir)
	if err := umount(); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}

func readManifest(dir string) (Manifest, error) {
	f, err := os.Open(filepath.Join(dir, "manifest.raucm"))
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: no manifest.raucm", ErrManifest)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	return ParseManifest(data)
}

// Apply installs the staged bundle with digest under approved grant
// grantID (consumed here, once, audited by the policy store). The install
// runs in the background; Status follows it. On success the board reboots
// into the new slot on trial.
func (u *Updater) Apply(ctx context.Context, grantID, actorID, digest string) error {
	u.mu.Lock()
	b := u.staged
	busy := u.status.State == "installing" || u.status.State == "installed"
	u.mu.Unlock()
	if busy {
		return fmt.Errorf("%w: an update is being installed", ErrBusy)
	}
	if b == nil || b.Digest != digest {
		return fmt.Errorf("%w: the approved bundle (%.12s…) is not the uploaded one; upload it again", ErrNoBundle, digest)
	}
	if err := u.deps.Grants.UseUpdate(ctx, grantID, actorID, digest); err != nil {
		return err
	}
	u.set(func(s *Status) {
		s.State, s.Message, s.LastTrialFailure = "installing", "installing (grant "+grantID+")", ""
	})
	_ = os.Remove(filepath.Join(u.cfg.Dir, TrialFailureFile))
	go u.install(context.WithoutCancel(ctx), *b, grantID)
	return nil
}

func (u *Updater) fail(err error) {
	u.log.Error("update: install failed; the running slot stays primary", "err", err)
	u.set(func(s *Status) { s.State, s.Message = "failed", err.Error() })
}

func (u *Updater) install(ctx context.Context, staged Bundle, grantID string) {
	// Verified again: the file is what was approved, and still signed.
	b, m, err := u.check(ctx, staged.Path)
	if err == nil && b.Digest != staged.Digest {
		err = fmt.Errorf("%w: the bundle changed after it was approved", ErrBundle)
	}
	if err != nil {
		u.fail(err)
		return
	}
	cur, err := u.deps.Chooser.Current(ctx)
	if err != nil {
		u.fail(err)
		return
	}
	target := "B"
	if cur == "B" {
		target = "A"
	}
	dev, err := u.deps.Chooser.Device(ctx, target)
	if err != nil {
		u.fail(err)
		return
	}
	u.set(func(s *Status) { s.Target = target })
	img := m.Images[u.cfg.SlotClass]
	start := u.deps.Now()
	err = u.withMounted(b, func(dir string) error { return writeSlot(filepath.Join(dir, img.Filename), dev, img) })
	if err != nil {
		u.fail(err)
		return
	}
	if err := u.deps.Chooser.SetPrimary(ctx, target); err != nil {
		u.fail(err)
		return
	}
	_ = os.Remove(staged.Path)
	u.log.Info("update: installed; rebooting into the new slot on trial", "version", m.Version, "slot", target, "device", dev,
		"grant", grantID, "took", u.deps.Now().Sub(start).Round(time.Millisecond))
	u.mu.Lock()
	u.staged = nil
	u.status.State, u.status.Message = "installed", "version "+m.Version+" installed in slot "+target+"; rebooting"
	u.mu.Unlock()
	time.Sleep(u.cfg.RebootDelay)
	if err := u.deps.Reboot(); err != nil {
		u.log.Error("update: reboot", "err", err)
	}
}

// writeSlot copies the image to the slot device, hashing it, and checks
// size and SHA-256 against the manifest before anything marks the slot.
func writeSlot(src, dev string, img Image) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("update: slot: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(in, img.Size+1))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("update: write slot %s: %w", dev, err)
	}
	if n != img.Size {
		return fmt.Errorf("%w: image is %d bytes, the manifest says %d", ErrManifest, n, img.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != img.SHA256 {
		return fmt.Errorf("%w: image sha256 %s, the manifest says %s", ErrManifest, got, img.SHA256)
	}
	return nil
}

// Run confirms a slot on trial: once the recorder is healthy (a sealed
// segment) it asks the boot chooser whether the running slot is on trial
// (again: the answer at start may have been wrong) and, if so, marks it
// good so it stays primary. A failing chooser is asked again every tick.
// It returns when ctx ends, the slot is confirmed or is not on trial.
func (u *Updater) Run(ctx context.Context) error {
	slot := u.Status().Slot
	if u.Status().Trial {
		u.log.Warn("update: this slot is on trial; waiting for the first sealed segment", "slot", slot)
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !u.deps.Healthy() {
			continue
		}
		trial, err := u.deps.Chooser.Trial(ctx)
		if err != nil {
			u.log.Warn("update: is this slot on trial? the boot chooser failed; asking again", "slot", slot, "err", err)
			continue
		}
		if !trial {
			u.set(func(s *Status) { s.Trial = false })
			return nil
		}
		if !u.Status().Trial {
			u.log.Warn("update: this slot is on trial after all (the boot chooser said otherwise at start)", "slot", slot)
		}
		if err := u.deps.Chooser.MarkGood(ctx, slot); err != nil {
			u.log.Error("update: mark the slot good", "slot", slot, "err", err)
			continue
		}
		u.set(func(s *Status) { s.Trial, s.Message = false, "slot "+slot+" healthy: kept" })
		u.log.Info("update: the slot is healthy and kept", "slot", slot, "system", u.cfg.SystemVersion)
		return nil
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// IsRefusal reports whether err is a refusal of the input (4xx), not a
// device fault.
func IsRefusal(err error) bool {
	return errors.Is(err, ErrBundle) || errors.Is(err, ErrManifest)
}

// ReadSystemVersion reads the one-line system version file ("" if none).
func ReadSystemVersion(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	v := strings.TrimSpace(string(b))
	if !validVersion(v) {
		return ""
	}
	return v
}
