package export

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/users"
)

// GrantPolicy is what a signed export needs from the policy store
// (*policy.Store has it): the grant check that also audits the use, the
// grant and user names for the manifest, and the audit log.
type GrantPolicy interface {
	UseGrant(ctx context.Context, id, actorID, action, camera string, from, to time.Time) error
	Grant(ctx context.Context, id string) (grants.Grant, error)
	Users(ctx context.Context) ([]users.User, error)
	Audit(ctx context.Context, e audit.Event) (audit.Record, error)
}

// Subject names the device and camera in a manifest.
type Subject struct {
	Device         string // device id
	CameraName     string // local name (confidential; the grant covered it)
	OpaqueCameraID string // the id used upstream (R19)
}

// SignedRequest is one export under an export grant, as the CLI and the
// daemon's job runner make it.
type SignedRequest struct {
	Subject
	Camera   string // local camera id
	From, To time.Time
	GrantID  string
	Actor    string // user id of the exporter, the grant holder
	FileName string // base name of the MP4 (manifest)
	Key      ed25519.PrivateKey
	Now      func() time.Time // nil = time.Now
}

// Sink receives the MP4. Commit is called once, after the last byte and
// before the export is audited and the manifest signed: it makes the file
// complete (flush, seal, sync, close), not yet visible under its final
// name.
type Sink interface {
	io.Writer
	Commit() error
}

// AuditAction is the audit action of an export.
const AuditAction = "export"

// Signed is the one way a grant turns into an exported file (R17), for the
// CLI and the daemon alike:
//
//  1. Export writes the MP4 to out, after the grant check (pol.UseGrant:
//     the actor's own approved, unexpired export grant covering the
//     camera and range; the use is audited);
//  2. out.Commit;
//  3. the export is audited (action "export", result ok, the file's
//     SHA-256): the manifest's AuditSeq is that record's sequence;
//  4. the manifest names the requester, every approver (joined with ", ")
//     and the exporter, and is signed with req.Key.
//
// A refusal or failure is audited as well (result "refused", the error
// class as detail) and returned. The caller moves the committed file and
// the returned manifest document to their places.
func Signed(ctx context.Context, store Reader, pol GrantPolicy, req SignedRequest, out Sink, progress func(done, total time.Duration)) (Manifest, []byte, error) {
	refuse := func(err error) (Manifest, []byte, error) {
		_, _ = pol.Audit(context.WithoutCancel(ctx), audit.Event{Actor: req.Actor, Action: AuditAction, TargetKind: audit.KindCamera, Target: req.Camera,
			Grant: req.GrantID, Result: "refused", Detail: ErrorClass(err)})
		return Manifest{}, nil, err
	}
	m, err := Export(ctx, store, Request{
		Device: req.Device, Camera: req.Camera, CameraName: req.CameraName, OpaqueCameraID: req.OpaqueCameraID,
		From: req.From, To: req.To, GrantID: req.GrantID, FileName: req.FileName, Now: req.Now,
		Authorizer: AuthorizerFunc(func(ctx context.Context, gid, camera string, from, to time.Time) error {
			return pol.UseGrant(ctx, gid, req.Actor, grants.Export, camera, from, to)
		}),
	}, out, progress)
	if err == nil {
		err = out.Commit()
	}
	if err != nil {
		return refuse(err)
	}
	g, err := pol.Grant(ctx, req.GrantID)
	if err != nil {
		return refuse(fmt.Errorf("export: grant %s: %w", req.GrantID, err))
	}
	names := UserNames(ctx, pol)
	m.Requester, m.Approver, m.Exporter = names[g.Requester], Approvers(g, names), names[req.Actor]
	rec, err := pol.Audit(ctx, audit.Event{Actor: req.Actor, Action: AuditAction, TargetKind: audit.KindCamera, Target: req.Camera,
		Grant: req.GrantID, Result: audit.ResultOK, Detail: "sha256 " + m.File.SHA256})
	if err != nil {
		return Manifest{}, nil, fmt.Errorf("export written but not audited: %w", err)
	}
	m.AuditSeq = rec.Seq
	doc, err := SignManifest(m, req.Key)
	if err != nil {
		return Manifest{}, nil, err
	}
	return m, doc, nil
}

// UserNames maps user ids to names (empty if the users cannot be read).
func UserNames(ctx context.Context, pol interface {
	Users(ctx context.Context) ([]users.User, error)
}) map[string]string {
	names := map[string]string{}
	if us, err := pol.Users(ctx); err == nil {
		for _, u := range us {
			names[u.ID] = u.Name
		}
	}
	return names
}

// Approvers is everyone who approved g, by name, joined with ", ", in the
// order they approved (the manifest's and the wipe certificate's
// approver).
func Approvers(g grants.Grant, names map[string]string) string {
	var out []string
	for _, a := range g.Approvals {
		out = append(out, names[a.By])
	}
	return strings.Join(out, ", ")
}

// ErrorClass is the audit detail of a refused export: the kind of error,
// never a camera name or a path.
func ErrorClass(err error) string {
	for _, c := range []struct {
		e    error
		name string
	}{{ErrNotAuthorized, "not authorized"}, {ErrInvalidRange, "invalid range"}, {ErrNoFootage, "no footage"}, {ErrBadStream, "bad stream"}} {
		if errors.Is(err, c.e) {
			return c.name
		}
	}
	return "failed"
}

// SignedFile is Signed into the file path, with the manifest beside it
// (ManifestPath): the export is written to a temporary file in the same
// directory and renamed into place after the manifest is written, so a
// failed export leaves nothing at path. `edgerec export` uses it.
func SignedFile(ctx context.Context, store Reader, pol GrantPolicy, req SignedRequest, path string, progress func(done, total time.Duration)) (Manifest, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*.mp4")
	if err != nil {
		return Manifest{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if req.FileName == "" {
		req.FileName = filepath.Base(path)
	}
	m, doc, err := Signed(ctx, store, pol, req, fileSink{tmp}, progress)
	if err != nil {
		return m, err
	}
	if err := fsutil.WriteFile(ManifestPath(path), doc, 0o600); err != nil {
		return m, err
	}
	return m, os.Rename(tmp.Name(), path)
}

// fileSink is an export written to a plain file.
type fileSink struct{ *os.File }

func (f fileSink) Commit() error {
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}
