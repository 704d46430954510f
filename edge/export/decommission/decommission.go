package decommission

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/cameras"
	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/users"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
)

// Policy is what the procedure needs from the policy store (*policy.Store
// has it).
type Policy interface {
	Grant(ctx context.Context, id string) (grants.Grant, error)
	Users(ctx context.Context) ([]users.User, error)
	Audit(ctx context.Context, e audit.Event) (audit.Record, error)
}

// AuditAction is the audit action of a decommission.
const AuditAction = "decommission"

// CertificateFile is the certificate's default name in the data dir.
const CertificateFile = "wipe-certificate.json"

// DeviceSecrets are the names under the data dir that a decommission
// removes after storage.Wipe (the CLI and the daemon alike; Config.Secrets):
// users and audit db (its head is in the certificate, which was sent
// upstream), TLS and uplink keys and files, the outbox, the camera vault and
// the config (camera names and positions are confidential, R19).
func DeviceSecrets() []string {
	return []string{policy.DBFile, "outbox.db", "edgerec.yaml", "edgerec.yaml.written", "coverage", cameras.VaultDir, "uplink-audit.seq", "tls", "web", "exports",
		filepath.Join("keys", "uplink-id.key"), keyprov.FaultFile, "uplink"}
}

// SentNote is the operator's note on whether the certificate went upstream
// (Deps.Send's result): err is what delivering it returned; notDelivered
// is the sender's "not taken in time" error.
func SentNote(err, notDelivered error) string {
	switch {
	case err == nil:
		return " (sent upstream)"
	case errors.Is(err, notDelivered):
		return " (NOT sent upstream: " + err.Error() + ": deliver the certificate file by hand)"
	}
	return " (not sent upstream: " + err.Error() + ")"
}

// Errors; match with errors.Is.
var ErrDone = errors.New("this device is already wiped")

// Config of a decommission.
type Config struct {
	DataDir  string
	DeviceID string
	Keys     storage.KeyProviders
	Passes   int    // full overwrite passes of the ring (0..7)
	CertPath string // "" = <DataDir>/wipe-certificate.json
	// Secrets are the names under DataDir that RemoveSecrets removes (the
	// signing key is removed after them).
	Secrets []string
}

// Deps of a decommission.
type Deps struct {
	Policy Policy
	// SigningKey loads the device's signing key (it is cleared after use).
	SigningKey func() (ed25519.PrivateKey, error)
	// Stop, if set, stops everything that uses the store and closes it;
	// called after the decommission is audited, before the wipe.
	Stop func(ctx context.Context)
	// Send, if set, delivers the signed certificate upstream and returns a
	// note for the operator (" (sent upstream)").
	Send func(ctx context.Context, doc []byte) string
	// Progress, if set, reports the overwrite passes.
	Progress func(done, total int64)
	// Done, if set, is called after a successful decommission (the daemon
	// stops itself).
	Done   func()
	Logger *slog.Logger // nil = discard
}

// Result of a decommission.
type Result struct {
	Certificate export.WipeCertificate
	Doc         []byte // the signed certificate
	Report      storage.WipeReport
	Path        string // where the certificate was written
	Sent        string // Deps.Send's note
}

// Decommissioner runs the procedure once. Safe for concurrent use.
type Decommissioner struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu   sync.Mutex
	done bool
}

// New returns a decommissioner.
func New(cfg Config, deps Deps) *Decommissioner {
	if cfg.CertPath == "" {
		cfg.CertPath = filepath.Join(cfg.DataDir, CertificateFile)
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Decommissioner{cfg: cfg, deps: deps, log: log}
}

// Decommission runs the procedure and returns the signed certificate
// (web.Decommissioner). grantID "" is the wipe button.
func (d *Decommissioner) Decommission(ctx context.Context, grantID, actorID string) ([]byte, error) {
	r, err := d.Run(ctx, grantID, actorID)
	return r.Doc, err
}

// Wiped reports whether the device was wiped.
func (d *Decommissioner) Wiped() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

// Run decommissions the device (the steps in the package doc) under
// grantID, confirmed by actorID; grantID "" is the wipe button. An error
// before the wipe has changed nothing but the audit log.
func (d *Decommissioner) Run(ctx context.Context, grantID, actorID string) (Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return Result{}, ErrDone
	}
	key, err := d.deps.SigningKey()
	if err != nil {
		return Result{}, fmt.Errorf("decommission: signing key: %w; nothing changed", err)
	}
	defer clear(key)
	cert, err := d.authorize(ctx, grantID, actorID)
	if err != nil {
		return Result{}, err
	}
	d.log.Warn("decommission: stopping recording and wiping", "grant", grantID, "trigger", cert.Trigger)
	if d.deps.Stop != nil {
		d.deps.Stop(ctx)
	}
	rep, err := storage.Wipe(ctx, d.cfg.DataDir, storage.WipeOptions{Keys: d.cfg.Keys, Passes: d.cfg.Passes, Progress: d.deps.Progress})
	if err != nil {
		return Result{}, fmt.Errorf("wipe: %w", err)
	}
	d.done = true
	c := export.NewWipeCertificate(d.cfg.DeviceID, rep, time.Now())
	c.Trigger, c.Grant, c.Admin, c.Approver, c.AuditSeq, c.AuditHead = cert.Trigger, cert.Grant, cert.Admin, cert.Approver, cert.AuditSeq, cert.AuditHead
	doc, err := export.SignWipeCertificate(c, key)
	if err != nil {
		return Result{}, err
	}
	res := Result{Certificate: c, Doc: doc, Report: rep, Path: d.cfg.CertPath}
	if err := writeFile(d.cfg.CertPath, doc, 0o644); err != nil {
		return res, fmt.Errorf("decommission: write the certificate: %w", err)
	}
	if d.deps.Send != nil {
		res.Sent = d.deps.Send(ctx, doc)
	}
	if d.deps.Done != nil {
		d.deps.Done()
	}
	return res, nil
}

// authorize names who decommissions (the admin and every approver of the
// grant, or the button) and audits the decommission; the certificate
// cites that record.
func (d *Decommissioner) authorize(ctx context.Context, grantID, actorID string) (export.WipeCertificate, error) {
	names := export.UserNames(ctx, d.deps.Policy)
	c := export.WipeCertificate{Trigger: "grant", Grant: grantID, Admin: names[actorID]}
	if grantID == "" {
		c.Trigger = "button" // wipe button held 10 s + this admin's confirmation
	} else {
		g, err := d.deps.Policy.Grant(ctx, grantID)
		if err != nil {
			return c, fmt.Errorf("decommission grant %s: %w; nothing changed", grantID, err)
		}
		c.Approver = export.Approvers(g, names)
	}
	rec, err := d.deps.Policy.Audit(ctx, audit.Event{Actor: actorID, Action: AuditAction, TargetKind: audit.KindDevice, Grant: grantID,
		Result: audit.ResultOK, Detail: fmt.Sprintf("%s, passes %d", c.Trigger, d.cfg.Passes)})
	if err != nil {
		return c, fmt.Errorf("audit: %w; nothing changed", err)
	}
	h, err := audit.HashRecord(&rec)
	if err != nil {
		return c, err
	}
	c.AuditSeq, c.AuditHead = rec.Seq, fmt.Sprintf("%x", h)
	return c, nil
}

// RemoveSecrets removes, after a decommission, what is left of the
// device's identity: Config.Secrets, then the signing key (it signed the
// certificate). Every file, also inside directories, is overwritten
// before it is unlinked. It returns the names removed; nothing if the
// device was not wiped.
func (d *Decommissioner) RemoveSecrets() []string {
	if !d.Wiped() {
		return nil
	}
	return RemoveFiles(d.cfg.DataDir, append(append([]string(nil), d.cfg.Secrets...), devkey.PrivateFile)...)
}

// RemoveFiles overwrites and removes the named files and directories of
// dir and returns the names removed.
func RemoveFiles(dir string, names ...string) []string {
	var removed []string
	for _, name := range names {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		_ = filepath.WalkDir(p, func(f string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				if fi, err := e.Info(); err == nil {
					Overwrite(f, fi.Size())
				}
			}
			return nil
		})
		if err := os.RemoveAll(p); err == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// Overwrite overwrites the first size bytes of path with zeros and syncs
// (best effort; the file stays).
func Overwrite(path string, size int64) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	zero := make([]byte, 64<<10)
	for off := int64(0); off < size; off += int64(len(zero)) {
		n := min(int64(len(zero)), size-off)
		if _, err := f.WriteAt(zero[:n], off); err != nil {
			return
		}
	}
	_ = f.Sync()
}

// writeFile writes the certificate: temp file, fsync, rename, fsync the
// directory (it may replace an older certificate, which
// storage/keys.WriteFileAtomic refuses).
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
