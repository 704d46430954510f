package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/bluenviron/mediacommon/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/pkg/formats/fmp4/seekablebuffer"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/storage"
)

// Playback limits.
const (
	maxTimelineRange = 31 * 24 * time.Hour
	maxPlayWindow    = 5 * time.Minute
	grantRecheck     = 2 * time.Second
	// maxPlaybacks caps concurrent playbacks device-wide: each one is a
	// decode + overlay + encode on one core of a 2–4 core board.
	maxPlaybacks = 2
)

// parseRange reads from/to (RFC 3339) from q; defaults: the last 24 hours.
func parseRange(q url.Values, now time.Time, maxRange time.Duration) (from, to time.Time, err error) {
	to, from = now, now.Add(-24*time.Hour)
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return from, to, fmt.Errorf("%w: to must be an RFC 3339 time", ErrInvalid)
		}
	}
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return from, to, fmt.Errorf("%w: from must be an RFC 3339 time", ErrInvalid)
		}
	} else if q.Get("to") != "" {
		from = to.Add(-24 * time.Hour)
	}
	if !from.Before(to) {
		return from, to, fmt.Errorf("%w: from must be before to", ErrInvalid)
	}
	if to.Sub(from) > maxRange {
		return from, to, fmt.Errorf("%w: range longer than %s", ErrInvalid, maxRange)
	}
	return from.UTC(), to.UTC(), nil
}

type spanView struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// apiTimeline answers a camera's coverage in [from, to): spans of footage;
// what lies between is a gap. Metadata only, no video.
func (s *Server) apiTimeline(w http.ResponseWriter, r *http.Request, _ principal) {
	if need503(w, s.deps.Recordings != nil, "recordings") {
		return
	}
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "bad camera id")
		return
	}
	from, to, err := parseRange(r.URL.Query(), s.now(), maxTimelineRange)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	spans, err := s.deps.Recordings.Coverage(r.Context(), id, from, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(spans) == 0 {
		// A camera that is not configured and has no footage here does not
		// exist (a removed camera's footage still has a timeline).
		if _, err := s.deps.Cameras.Get(r.Context(), id); errors.Is(err, ErrUnknownCamera) {
			writeError(w, http.StatusNotFound, "unknown camera")
			return
		}
	}
	out := make([]spanView, 0, len(spans))
	for _, sp := range spans {
		out = append(out, spanView{From: sp.From.UTC(), To: sp.To.UTC()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"camera": id, "from": from, "to": to, "spans": out})
}

var errGrantEnded = errors.New("grant no longer active")

// apiPlay streams recorded footage of a camera in [from, to) as fragmented
// MP4 for MSE, under a playback grant (R11, R12): UseGrant checks and
// audits every window; the grant is re-read while streaming, so a revoked
// or expired grant stops the stream within a couple of seconds. Frames
// before the grant's start are never sent (the stream starts at the first
// keyframe inside the grant). The footage is transcoded with the viewer's
// name, the grant id and the times burned into the pixels (R18, issue 12:
// a saved stream says who watched it); at most maxPlaybacks run at once
// device-wide, the next one gets 429.
func (s *Server) apiPlay(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Recordings != nil, "recordings") {
		return
	}
	id := r.PathValue("id")
	q := r.URL.Query()
	gid := q.Get("grant")
	note := noteOf(r)
	if !validID(id) || !validID(gid) {
		writeError(w, http.StatusBadRequest, "camera and grant are required")
		return
	}
	note.grant = gid
	from, to, err := parseRange(q, s.now(), maxPlayWindow)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	origin := from
	if v := q.Get("origin"); v != "" {
		if origin, err = time.Parse(time.RFC3339Nano, v); err != nil || origin.After(from) || from.Sub(origin) > 400*24*time.Hour {
			writeError(w, http.StatusBadRequest, "origin must be an RFC 3339 time at or before from")
			return
		}
	}
	select {
	case s.playSem <- struct{}{}:
		defer func() { <-s.playSem }()
	default:
		note.detail = "refused: playback limit"
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many playbacks on this device at once (at most %d); try again when one has ended", maxPlaybacks))
		return
	}
	if err := s.pol.UseGrant(r.Context(), gid, who.ID, grants.Playback, id, from, to); err != nil {
		note.detail = "refused"
		s.fail(w, r, err)
		return
	}
	g, err := s.pol.Grant(r.Context(), gid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var masks []mask.Mask
	if s.deps.Cameras != nil {
		if cam, err := s.deps.Cameras.Get(r.Context(), id); err == nil {
			masks = cam.MaskList()
		}
	}
	tc, err := newBurnTranscoder(masks, who.User, gid, from, s.now)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	defer tc.Close()
	floor := time.Unix(0, g.From)
	mux := &fmp4Writer{w: w, origin: origin}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
	lastCheck := time.Now()
	ctx := r.Context()
	err = s.deps.Recordings.ReadFrames(ctx, id, from, to, func(f storage.Frame) error {
		if f.Time.Before(floor) {
			return nil
		}
		if time.Since(lastCheck) > grantRecheck {
			lastCheck = time.Now()
			cur, err := s.pol.Grant(context.WithoutCancel(ctx), gid)
			if err != nil || !cur.Active(s.now()) {
				return errGrantEnded
			}
			// Transcoding takes time: the deadline bounds a stalled
			// client, not the length of the window.
			_ = rc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		}
		return tc.frame(f, mux.frame)
	})
	if err == nil {
		err = tc.finish(mux.frame)
	}
	if err == nil {
		err = mux.finish()
	}
	s.log.Debug("web: playback transcoded", "camera", id, "grant", gid, "frames_in", tc.in, "frames_out", tc.out, "skipped", tc.skipped)
	switch {
	case err == nil && !mux.started:
		writeError(w, http.StatusNotFound, "no footage in this range")
	case errors.Is(err, errGrantEnded):
		note.detail = "stopped: grant no longer active"
		s.log.Warn("web: playback stopped: grant no longer active", "grant", gid, "user", who.ID)
		if !mux.started {
			writeError(w, http.StatusForbidden, "grant no longer active")
			return
		}
		panic(http.ErrAbortHandler)
	case err != nil && !mux.started:
		s.fail(w, r, err)
	case err != nil:
		s.log.Warn("web: playback", "camera", id, "err", err)
		panic(http.ErrAbortHandler)
	default:
		_ = rc.Flush()
	}
}

// fmp4Writer muxes H.264 access units (Annex-B, one per frame, keyframes
// with SPS/PPS in band) into fragmented MP4: an init segment, then one
// fragment (moof+mdat) per GOP. Timestamps are 90 kHz from origin, so
// consecutive windows of one playback line up in the browser.
type fmp4Writer struct {
	w       http.ResponseWriter
	origin  time.Time
	started bool
	seq     uint32
	sps     []byte
	pps     []byte
	gop     []storage.Frame
}

const timescale = 90000

func (m *fmp4Writer) frame(f storage.Frame) error {
	if f.Key && len(m.gop) > 0 {
		if err := m.flush(f.Time); err != nil {
			return err
		}
	}
	if len(m.gop) == 0 && !f.Key {
		return nil // wait for a keyframe
	}
	m.gop = append(m.gop, f)
	return nil
}

func (m *fmp4Writer) finish() error {
	if len(m.gop) == 0 {
		return nil
	}
	last := m.gop[len(m.gop)-1].Time.Add(time.Second / 15)
	return m.flush(last)
}

func ticks(d time.Duration) int64 { return int64(d) * timescale / int64(time.Second) }

// flush writes the buffered GOP (next is the time of the frame after it).
func (m *fmp4Writer) flush(next time.Time) error {
	gop := m.gop
	m.gop = nil
	var sps, pps []byte
	for _, n := range codec.SplitAnnexB(gop[0].Data) {
		if len(n) == 0 {
			continue
		}
		switch n[0] & 0x1f {
		case 7:
			sps = n
		case 8:
			pps = n
		}
	}
	if sps == nil || pps == nil || len(sps) < 4 {
		return fmt.Errorf("web: playback: keyframe without SPS/PPS")
	}
	// A new init segment whenever the parameter sets change (the camera
	// restarted with new masks or settings inside this window); MSE
	// accepts a new init segment between fragments.
	if !m.started || !bytes.Equal(sps, m.sps) || !bytes.Equal(pps, m.pps) {
		m.sps, m.pps = bytes.Clone(sps), bytes.Clone(pps)
		init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: 1, TimeScale: timescale, Codec: &fmp4.CodecH264{SPS: sps, PPS: pps}}}}
		var buf seekablebuffer.Buffer
		if err := init.Marshal(&buf); err != nil {
			return fmt.Errorf("web: playback: init: %w", err)
		}
		if !m.started {
			h := m.w.Header()
			h.Set("Content-Type", "video/mp4")
			h.Set("X-Codec", fmt.Sprintf("avc1.%02X%02X%02X", sps[1], sps[2], sps[3]))
			h.Set("Cache-Control", "no-store")
			m.w.WriteHeader(http.StatusOK)
			m.started = true
		}
		if _, err := m.w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	base := ticks(gop[0].Time.Sub(m.origin))
	if base < 0 {
		base = 0
	}
	pt := &fmp4.PartTrack{ID: 1, BaseTime: uint64(base)}
	for i, f := range gop {
		end := next
		if i+1 < len(gop) {
			end = gop[i+1].Time
		}
		d := ticks(end.Sub(f.Time))
		if d <= 0 || d > timescale {
			d = timescale / 15
		}
		var nalus [][]byte
		for _, n := range codec.SplitAnnexB(f.Data) {
			if len(n) == 0 {
				continue
			}
			// Parameter sets stay in band as well as in the init segment:
			// openh264 gives every IDR new SPS/PPS ids, and a player that
			// keeps the first init segment (ffmpeg, a saved file) needs
			// them to decode the next GOP. No AUDs.
			if n[0]&0x1f == 9 {
				continue
			}
			nalus = append(nalus, n)
		}
		smp, err := fmp4.NewPartSampleH264(0, nalus)
		if err != nil {
			return fmt.Errorf("web: playback: sample: %w", err)
		}
		smp.Duration = uint32(d)
		smp.IsNonSyncSample = !f.Key
		pt.Samples = append(pt.Samples, smp)
	}
	m.seq++
	part := fmp4.Part{SequenceNumber: m.seq, Tracks: []*fmp4.PartTrack{pt}}
	var buf seekablebuffer.Buffer
	if err := part.Marshal(&buf); err != nil {
		return fmt.Errorf("web: playback: fragment: %w", err)
	}
	_, err := m.w.Write(buf.Bytes())
	return err
}
