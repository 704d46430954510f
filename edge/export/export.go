package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/edgerec/edgerec/edge/export/fmp4"
	"github.com/edgerec/edgerec/storage"
)

// Reader is what Export needs from the store (*storage.Store has it).
type Reader interface {
	ReadFrames(ctx context.Context, camera string, from, to time.Time, fn func(storage.Frame) error) error
	Coverage(ctx context.Context, camera string, from, to time.Time) ([]storage.Span, error)
}

// Authorizer checks that grantID allows exporting camera in [from, to)
// now (policy's grant check: an approved export grant, not expired, not
// revoked, covering the camera and range). It is called before anything is
// read or written; its error is returned wrapped in ErrNotAuthorized.
type Authorizer interface {
	AuthorizeExport(ctx context.Context, grantID, camera string, from, to time.Time) error
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, grantID, camera string, from, to time.Time) error

// AuthorizeExport implements Authorizer.
func (f AuthorizerFunc) AuthorizeExport(ctx context.Context, grantID, camera string, from, to time.Time) error {
	return f(ctx, grantID, camera, from, to)
}

// Request is one export.
type Request struct {
	Device         string // device id (manifest)
	Camera         string // local camera id (storage key)
	CameraName     string
	OpaqueCameraID string
	From, To       time.Time
	GrantID        string
	Requester      string
	Approver       string
	Exporter       string
	AuditSeq       uint64 // sequence of the audit record of this export
	FileName       string // base name of the MP4, recorded in the manifest

	// Authorizer is required: Export refuses without one.
	Authorizer Authorizer
	// Now is the clock for Manifest.Created (nil = time.Now).
	Now func() time.Time
}

// Errors; match with errors.Is.
var (
	ErrNotAuthorized = errors.New("export: not authorized")
	ErrInvalidRange  = errors.New("export: invalid range")
	ErrNoFootage     = errors.New("export: no footage in the range")
	// ErrBadStream is the muxer's (edge/export/fmp4).
	ErrBadStream = fmp4.ErrBadStream
)

// MaxFragmentFrames caps the frames of one fragment (a GOP is one fragment
// unless it is longer).
const MaxFragmentFrames = fmp4.MaxFragmentFrames

// Timescale of the video track.
const Timescale = fmp4.Timescale

// Export writes the MP4 of req to w and returns its (unsigned) manifest;
// sign it with SignManifest. progress, if set, is called after each
// fragment with the footage time written and the total.
//
// Before writing anything it checks the range, asks req.Authorizer, and
// checks that the store has footage in the range; any refusal leaves w
// untouched. An error after that (a tampered chunk, an erased key, a write
// error) leaves a partial file: write to a temporary file and rename it
// on success.
func Export(ctx context.Context, store Reader, req Request, w io.Writer, progress func(done, total time.Duration)) (Manifest, error) {
	if err := ctx.Err(); err != nil {
		return Manifest{}, err
	}
	if req.Camera == "" {
		return Manifest{}, fmt.Errorf("%w: no camera", ErrInvalidRange)
	}
	if req.From.IsZero() || req.To.IsZero() || !req.From.Before(req.To) {
		return Manifest{}, fmt.Errorf("%w: from %s is not before to %s", ErrInvalidRange, req.From.Format(time.RFC3339), req.To.Format(time.RFC3339))
	}
	if req.Authorizer == nil {
		return Manifest{}, fmt.Errorf("%w: no authorizer given", ErrNotAuthorized)
	}
	if req.GrantID == "" {
		return Manifest{}, fmt.Errorf("%w: no grant", ErrNotAuthorized)
	}
	if err := req.Authorizer.AuthorizeExport(ctx, req.GrantID, req.Camera, req.From, req.To); err != nil {
		return Manifest{}, fmt.Errorf("%w: grant %s: %w", ErrNotAuthorized, req.GrantID, err)
	}
	spans, err := store.Coverage(ctx, req.Camera, req.From, req.To)
	if err != nil {
		return Manifest{}, fmt.Errorf("export: coverage: %w", err)
	}
	var total time.Duration
	for _, s := range spans {
		total += s.To.Sub(s.From)
	}
	if len(spans) == 0 || total <= 0 {
		return Manifest{}, fmt.Errorf("%w: camera %s has no recording in [%s, %s)", ErrNoFootage, req.Camera,
			req.From.Format(time.RFC3339), req.To.Format(time.RFC3339))
	}
	now := req.Now
	if now == nil {
		now = time.Now
	}

	m := Manifest{
		Device: req.Device, Camera: ManifestCamera{ID: req.OpaqueCameraID, Name: req.CameraName},
		From: req.From.UTC(), To: req.To.UTC(),
		Grant: req.GrantID, Requester: req.Requester, Approver: req.Approver, Exporter: req.Exporter,
		AuditSeq: req.AuditSeq,
		File:     FileInfo{Name: req.FileName, Format: "fmp4"},
		Video:    VideoInfo{Timescale: Timescale},
	}
	out := &countingWriter{w: w, h: sha256.New()}
	mux := fmp4.New(out, fmp4.Config{End: req.To, OnFragment: func(done time.Duration) {
		if progress != nil {
			progress(min(done, total), total)
		}
	}})
	err = store.ReadFrames(ctx, req.Camera, req.From, req.To, func(f storage.Frame) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return mux.WriteFrame(f.Time, f.Key, f.Data)
	})
	if err == nil {
		err = mux.Close()
	}
	if err != nil {
		return Manifest{}, err
	}
	st := mux.Stats()
	if st.Frames == 0 {
		return Manifest{}, fmt.Errorf("%w: camera %s: no keyframe in [%s, %s)", ErrNoFootage, req.Camera,
			req.From.Format(time.RFC3339), req.To.Format(time.RFC3339))
	}
	if progress != nil {
		progress(total, total)
	}
	m.Start, m.End = st.Start.UTC(), st.End.UTC()
	m.Video.Width, m.Video.Height, m.Video.Codec = st.Track.Width, st.Track.Height, st.Track.Codec
	m.Video.Frames, m.Video.Keyframes, m.Video.Fragments = st.Frames, st.Keyframes, st.Fragments
	m.Created = now().UTC()
	m.File.Size = out.n
	m.File.SHA256 = hex.EncodeToString(out.h.Sum(nil))
	// Coverage of what the file holds.
	cov, err := store.Coverage(ctx, req.Camera, m.Start, m.End)
	if err != nil {
		return Manifest{}, fmt.Errorf("export: coverage: %w", err)
	}
	for _, s := range cov {
		m.Coverage = append(m.Coverage, Span{From: s.From.UTC(), To: s.To.UTC()})
	}
	m.Gaps = GapsOf(m.Coverage)
	if d := m.End.Sub(m.Start); d > 0 {
		m.Video.DurationMS = d.Milliseconds()
		m.Video.FPS = float64(m.Video.Frames) / d.Seconds()
	}
	return m, nil
}

type countingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("export: write: %w", err)
	}
	return n, nil
}
