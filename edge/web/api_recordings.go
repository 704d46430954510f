package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export/fmp4"
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
	cam, err := s.deps.Cameras.Get(r.Context(), id)
	if len(spans) == 0 && errors.Is(err, ErrUnknownCamera) {
		// A camera that is not configured and has no footage here does not
		// exist (a removed camera's footage still has a timeline).
		writeError(w, http.StatusNotFound, "unknown camera")
		return
	}
	out := make([]spanView, 0, len(spans))
	for _, sp := range spans {
		out = append(out, spanView{From: sp.From.UTC(), To: sp.To.UTC()})
	}
	// Issue 18: time outside the camera's recording schedule is "scheduled
	// off", not a gap (the schedule as configured now).
	off := []spanView{}
	if err == nil {
		if sched, serr := config.ScheduleOf(cam, s.cfg.Location); serr == nil {
			for _, sp := range sched.Off(from, to) {
				off = append(off, spanView{From: sp.From.UTC(), To: sp.To.UTC()})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"camera": id, "from": from, "to": to, "spans": out, "scheduled_off": off})
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
	if sl, ok := s.deps.Recordings.(SegmentLister); ok {
		// Issue 18: playback decodes to burn the viewer in (R18) and the
		// gateway decodes H.264 only; H.265 footage is exported instead.
		segs, err := sl.Segments(r.Context(), id, from, to)
		if err != nil {
			s.internalError(w, r, err)
			return
		}
		for _, sg := range segs {
			if sg.Codec == "h265" {
				note.detail = "refused: H.265 footage"
				writeError(w, http.StatusUnprocessableEntity, "this footage is H.265: playback on the LAN page re-encodes it with your name burned in (R18), and this gateway can decode only H.264; export the range instead (an export keeps the camera's H.265 and plays in VLC or ffmpeg)")
				return
			}
		}
	}
	var masks mask.Set
	if s.deps.Cameras != nil {
		if cam, err := s.deps.Cameras.Get(r.Context(), id); err == nil {
			if masks, err = cam.MaskSet(); err != nil { // the config was validated; cannot happen
				s.internalError(w, r, err)
				return
			}
		}
	}
	tc, err := newBurnTranscoder(masks, who.User, gid, from, s.now, s.cfg.Location)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	defer tc.Close()
	floor := time.Unix(0, g.From)
	mux := newPlayMuxer(w, origin, to)
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
		err = mux.Close()
	}
	s.log.Debug("web: playback transcoded", "camera", id, "grant", gid, "frames_in", tc.in, "frames_out", tc.out, "skipped", tc.skipped)
	switch {
	case err == nil && !mux.Stats().Started:
		writeError(w, http.StatusNotFound, "no footage in this range")
	case errors.Is(err, errGrantEnded):
		note.detail = "stopped: grant no longer active"
		s.log.Warn("web: playback stopped: grant no longer active", "grant", gid, "user", who.ID)
		if !mux.Stats().Started {
			writeError(w, http.StatusForbidden, "grant no longer active")
			return
		}
		panic(http.ErrAbortHandler)
	case err != nil && !mux.Stats().Started:
		s.fail(w, r, err)
	case err != nil:
		s.log.Warn("web: playback", "camera", id, "err", err)
		panic(http.ErrAbortHandler)
	default:
		_ = rc.Flush()
	}
}

// playMuxer is the playback stream: edge/export/fmp4 (the muxer exports
// use, so playback and export of a range have the same sample timing),
// timestamps from origin so consecutive windows of one playback line up
// in the browser, a new init segment when the parameter sets change (MSE
// accepts one between fragments), the HTTP headers sent with the first.
type playMuxer struct{ *fmp4.Muxer }

func newPlayMuxer(w http.ResponseWriter, origin, to time.Time) playMuxer {
	return playMuxer{fmp4.New(w, fmp4.Config{Origin: origin, End: to, NewInitOnChange: true, OnInit: func(t fmp4.Track) error {
		h := w.Header()
		h.Set("Content-Type", "video/mp4")
		h.Set("X-Codec", fmt.Sprintf("avc1.%02X%02X%02X", t.SPS[1], t.SPS[2], t.SPS[3]))
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return nil
	}})}
}

func (m playMuxer) frame(f storage.Frame) error { return m.WriteFrame(f.Time, f.Key, f.Data) }
