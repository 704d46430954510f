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

	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/pkg/formats/fmp4/seekablebuffer"

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
	ErrBadStream     = errors.New("export: stored stream cannot be exported")
)

// MaxFragmentFrames caps the frames of one fragment (a GOP is one fragment
// unless it is longer).
const MaxFragmentFrames = 300

// Timescale of the video track.
const Timescale = 90000

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
	mw := &muxer{
		out:      &countingWriter{w: w, h: sha256.New()},
		to:       req.To,
		progress: progress,
		total:    total,
		m:        &m,
	}
	err = store.ReadFrames(ctx, req.Camera, req.From, req.To, func(f storage.Frame) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return mw.add(f)
	})
	if err == nil {
		err = mw.finish()
	}
	if err != nil {
		return Manifest{}, err
	}
	if m.Video.Frames == 0 {
		return Manifest{}, fmt.Errorf("%w: camera %s: no keyframe in [%s, %s)", ErrNoFootage, req.Camera,
			req.From.Format(time.RFC3339), req.To.Format(time.RFC3339))
	}
	m.Created = now().UTC()
	m.File.Size = mw.out.n
	m.File.SHA256 = hex.EncodeToString(mw.out.h.Sum(nil))
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

type sample struct {
	t   time.Time
	dts int64 // 90 kHz ticks from start
	key bool
	au  [][]byte
}

// muxer turns frames into an init segment and one fragment per GOP.
type muxer struct {
	out      *countingWriter
	to       time.Time
	progress func(done, total time.Duration)
	total    time.Duration
	m        *Manifest

	started bool
	start   time.Time
	sps     []byte
	pend    []sample
	seq     uint32
	lastDTS int64
	lastDur int64 // duration of the previous sample (ticks), for the last one
	buf     seekablebuffer.Buffer
}

func ticks(d time.Duration) int64 {
	// round(d * 90000 / 1e9) without overflow for any realistic export
	return (int64(d)*9 + 50_000) / 100_000
}

func (x *muxer) add(f storage.Frame) error {
	var au h264.AnnexB
	if err := au.Unmarshal(f.Data); err != nil {
		return fmt.Errorf("%w: frame at %s: %v", ErrBadStream, f.Time.Format(time.RFC3339Nano), err)
	}
	nalus := au[:0]
	var sps, pps []byte
	idr := false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		case h264.NALUTypeIDR:
			idr = true
		}
		nalus = append(nalus, n)
	}
	key := f.Key || idr
	if !x.started {
		if !key || sps == nil || pps == nil {
			return nil // wait for a keyframe with parameter sets
		}
		if err := x.writeInit(sps, pps); err != nil {
			return err
		}
		x.started = true
		x.start = f.Time
		x.m.Start = f.Time.UTC()
	}
	dts := ticks(f.Time.Sub(x.start))
	if len(x.pend) > 0 || x.m.Video.Frames > 0 {
		if dts <= x.lastDTS { // clock stepped back or duplicate time: keep the order
			dts = x.lastDTS + 1
		}
	}
	if key && len(x.pend) > 0 || len(x.pend) >= MaxFragmentFrames {
		if err := x.flush(dts); err != nil {
			return err
		}
	}
	if len(x.pend) > 0 {
		x.lastDur = dts - x.pend[len(x.pend)-1].dts
	}
	x.pend = append(x.pend, sample{t: f.Time, dts: dts, key: key, au: nalus})
	x.lastDTS = dts
	x.m.Video.Frames++
	if key {
		x.m.Video.Keyframes++
	}
	return nil
}

func (x *muxer) writeInit(sps, pps []byte) error {
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return fmt.Errorf("%w: SPS: %v", ErrBadStream, err)
	}
	x.sps = sps
	x.m.Video.Width, x.m.Video.Height = s.Width(), s.Height()
	if len(sps) >= 4 {
		x.m.Video.Codec = fmt.Sprintf("avc1.%02x%02x%02x", sps[1], sps[2], sps[3])
	}
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: Timescale, Codec: &fmp4.CodecH264{SPS: sps, PPS: pps}}}}
	x.buf.Reset()
	if err := init.Marshal(&x.buf); err != nil {
		return fmt.Errorf("export: init segment: %w", err)
	}
	_, err := x.out.Write(x.buf.Bytes())
	return err
}

// flush writes the pending samples as one fragment; next is the dts of
// the sample after them (the end of the last one).
func (x *muxer) flush(next int64) error {
	if len(x.pend) == 0 {
		return nil
	}
	samples := make([]*fmp4.PartSample, len(x.pend))
	for i, s := range x.pend {
		end := next
		if i+1 < len(x.pend) {
			end = x.pend[i+1].dts
		}
		ps, err := fmp4.NewPartSampleH264(0, s.au)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadStream, err)
		}
		ps.IsNonSyncSample = !s.key
		ps.Duration = uint32(max(end-s.dts, 1))
		samples[i] = ps
	}
	x.seq++
	part := fmp4.Part{SequenceNumber: x.seq, Tracks: []*fmp4.PartTrack{{ID: 1, BaseTime: uint64(x.pend[0].dts), Samples: samples}}}
	x.buf.Reset()
	if err := part.Marshal(&x.buf); err != nil {
		return fmt.Errorf("export: fragment: %w", err)
	}
	if _, err := x.out.Write(x.buf.Bytes()); err != nil {
		return err
	}
	x.m.Video.Fragments++
	x.pend = x.pend[:0]
	if x.progress != nil {
		done := time.Duration(next) * time.Second / Timescale
		x.progress(min(done, x.total), x.total)
	}
	return nil
}

// finish writes the last fragment: its last frame lasts one frame interval
// (the previous one), clipped at To.
func (x *muxer) finish() error {
	if !x.started || len(x.pend) == 0 {
		return nil
	}
	last := x.pend[len(x.pend)-1]
	dur := x.lastDur
	if dur <= 0 {
		dur = Timescale / 15
	}
	if lim := ticks(x.to.Sub(x.start)) - last.dts; lim > 0 && dur > lim {
		dur = lim
	}
	end := last.dts + max(dur, 1)
	x.m.End = x.start.Add(time.Duration(end) * time.Second / Timescale).UTC()
	if err := x.flush(end); err != nil {
		return err
	}
	if x.progress != nil {
		x.progress(x.total, x.total)
	}
	return nil
}
