package web

import (
	"context"
	"image"
	"io"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export/jobs"
	"github.com/edgerec/edgerec/edge/live"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/policy/kind"
	"github.com/edgerec/edgerec/storage"
)

// Errors the collaborators may return (wrapped); the API maps them to 4xx
// and shows their message (they must not carry internals). Refusals by zone
// or signage wrap config.ErrRefused or rules.ErrProhibitedZone (422), bad
// masks wrap mask.ErrInvalid (400).
var (
	ErrCameraExists = kind.New(kind.Conflict, "web: camera id already in use")
	// ErrCoverageConflict: an approved coverage change can no longer be
	// applied as approved (the camera changed since the request); the
	// manager revoked it (409).
	ErrCoverageConflict = kind.New(kind.Conflict, "web: the camera changed since the request; the change was not applied and the request is revoked")
	ErrInvalid          = kind.New(kind.Invalid, "web: invalid input")
	ErrUnavailable      = kind.New(kind.Unavailable, "web: not available")
)

// Device is a local capture device an installer can add (V4L2).
type Device struct {
	Path string `json:"path"` // /dev/video0
	Name string `json:"name"` // driver card name
	URL  string `json:"url"`  // source URL to add it with: v4l2:///dev/video0
	Busy bool   `json:"busy"` // already used by a camera
}

// Cameras is the camera manager (cmd/edgerec implements it): the camera
// list persisted in the config, pipelines restarted on change. Every method
// must be safe for concurrent use.
type Cameras interface {
	// List returns every configured camera (the page filters by scope).
	List(ctx context.Context) ([]config.Camera, error)
	// Get returns one camera or an error wrapping ErrUnknownCamera.
	Get(ctx context.Context, id string) (config.Camera, error)
	// Add validates (zone R1 → config.ErrRefused/rules.ErrProhibitedZone,
	// masks → mask.ErrInvalid, id in use → ErrCameraExists), persists and
	// starts the camera. A password in cam.Source (rtsp://user:pass@…) is
	// moved into the device's vault: the persisted config keeps only
	// cam.Credential (issue 13, R32); Update does the same.
	Add(ctx context.Context, cam config.Camera) error
	// Update replaces camera cam.ID (same validation) and restarts it. The
	// masks in cam are ignored: SetMasks owns them.
	Update(ctx context.Context, cam config.Camera) error
	// Remove stops and deletes a camera (its recordings stay until
	// retention erases them).
	Remove(ctx context.Context, id string) error
	// SetMasks replaces the masks of a camera; the manager applies them to
	// recording and live view at once (one pipeline, restarted), so no
	// byte leaves unmasked (R2).
	SetMasks(ctx context.Context, id string, masks mask.Set) error
	// Update, Remove and SetMasks apply a change that reduces surveillance
	// privacy protection or coverage — removing a camera, deleting,
	// shrinking or weakening a mask, changing the zone or source — only
	// under an approved coverage grant (R27): they change nothing, keep
	// the exact proposal and return a *NeedsApproval error; the page files
	// the request. ApplyCoverage applies approved grant grantID (checked
	// and consumed in the policy store, audited citing it) exactly as
	// proposed, or answers an error wrapping ErrCoverageConflict.
	ApplyCoverage(ctx context.Context, grantID, actorID string) error
	// Probe opens a source URL without recording (source.Probe).
	Probe(ctx context.Context, url string) (media.StreamInfo, error)
	// Devices lists local V4L2 devices.
	Devices(ctx context.Context) ([]Device, error)
	// Snapshot is the latest masked picture of a camera (pipeline
	// Camera.Snapshot) or an error wrapping ErrUnknownCamera.
	Snapshot(ctx context.Context, id string) (image.Image, time.Time, error)
}

// CoverageChange is a proposed change that waits for approval (R27).
type CoverageChange struct {
	Camera string
	Kind   string // grants.KindRemove, KindMaskReduce, KindZone, KindSource, KindRetention
	Digest string // SHA-256 (hex) of the proposal the manager keeps
}

// NeedsApproval is returned (wrapped) by Cameras for a change that needs a
// coverage grant; nothing was changed.
type NeedsApproval struct{ Change CoverageChange }

func (e *NeedsApproval) Error() string {
	return "camera " + e.Change.Camera + ": " + e.Change.Kind + " needs an approver (R27)"
}

// Live is the WHEP live view; *live.Server implements it. It enforces the
// device-wide and per-user viewer limits (live.ErrTooManyViewers → 503,
// live.ErrViewerLimit → 429); the LAN page re-authorizes the sessions it
// lists and Ends the ones that lost their authorization (live_watch.go).
type Live interface {
	Offer(ctx context.Context, camera string, viewer live.Viewer, offer string) (live.Answer, error)
	Close(session, user string) error
	Sessions() []live.SessionInfo
	End(session, reason string) bool
	Stats() live.Stats
}

// Recordings is the part of *storage.Store playback uses.
type Recordings interface {
	Coverage(ctx context.Context, camera string, from, to time.Time) ([]storage.Span, error)
	ReadFrames(ctx context.Context, camera string, from, to time.Time, fn func(storage.Frame) error) error
}

// SegmentLister is the part of the store that says which codec footage
// is in (issue 18); *storage.Store implements it. A Recordings without it
// is taken to hold H.264 only.
type SegmentLister interface {
	Segments(ctx context.Context, camera string, from, to time.Time) ([]storage.SegmentInfo, error)
}

// ExportRequest is one export under an export grant; ExportStatus is its
// progress (the runner's own types, edge/export/jobs).
type (
	ExportRequest = jobs.Request
	ExportStatus  = jobs.Status
)

// Exports runs exports (edge/export: MP4 + signed manifest). The grant use
// is checked and audited by the LAN page before Start.
type Exports interface {
	Start(ctx context.Context, req ExportRequest) (ExportStatus, error)
	Status(ctx context.Context, id string) (ExportStatus, error)
	List(ctx context.Context) ([]ExportStatus, error)
	// Open returns the finished file ("mp4" or "manifest") of export id.
	Open(ctx context.Context, id, part string) (io.ReadCloser, int64, error)
}

// SecurityAlerts is told of a burst of failed logins (R22): failures in
// the burst and the window they were counted in.
type SecurityAlerts interface {
	LoginBurst(failures int, window time.Duration)
	// MaintenanceVisit: a visit naming cameras was recorded; recent is the
	// number of visits in the last 90 days (issue 18: only counts go up).
	MaintenanceVisit(cameras, recent int)
}

// Decommissioner wipes the device (R25) after the LAN page has checked and
// audited the decommission grant. It returns the signed wipe certificate.
type Decommissioner interface {
	Decommission(ctx context.Context, grantID, actorID string) (certificate []byte, err error)
}
