package web

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/live"
	"github.com/edgerec/edgerec/edge/media"
)

// apiWHEP takes a WHEP offer (application/sdp) for a camera's masked live
// view and answers 201 with the SDP answer and the session's Location
// (R18, R20). Several viewers of one camera share one hub reader and one
// encoder (edge/live).
func (s *Server) apiWHEP(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Live != nil, "live view") {
		return
	}
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "bad camera id")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		writeError(w, http.StatusUnsupportedMediaType, "the offer must be application/sdp")
		return
	}
	body, err := readBody(w, r, maxSDPBody)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "offer too large")
		return
	}
	cam, err := s.deps.Cameras.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cam.SubSource == "" && s.cameraCodec(id) == media.CodecH265 {
		// Issue 18: the live track is H.264 and this gateway decodes only
		// H.264; an H.265 camera without a sub stream would give a black
		// player. Say so instead.
		noteOf(r).detail = "refused: the camera sends H.265"
		writeError(w, http.StatusUnprocessableEntity, "this camera sends H.265: live view needs H.264. Switch the camera's stream to H.264, or give it an H.264 sub stream (sub_source; most cameras' second stream is H.264). Recording and export keep the H.265 stream.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ans, err := s.deps.Live.Offer(ctx, id, live.Viewer{User: who.ID, Session: who.session}, string(body))
	if err != nil {
		noteOf(r).detail = clip(err.Error(), 200)
		s.fail(w, r, err)
		return
	}
	noteOf(r).detail = "live session " + ans.Session
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", "/api/v1/cameras/"+url.PathEscape(id)+"/whep/"+ans.Session)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(ans.SDP))
}

// apiWHEPEnd hangs up a live session (its own viewer only).
func (s *Server) apiWHEPEnd(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Live != nil, "live view") {
		return
	}
	sid := r.PathValue("sid")
	if len(sid) > 64 || strings.ContainsFunc(sid, func(c rune) bool { return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') }) {
		writeError(w, http.StatusBadRequest, "bad session id")
		return
	}
	if err := s.deps.Live.Close(sid, who.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// cameraCodec is what camera id sends, from health ("" when unknown yet).
func (s *Server) cameraCodec(id string) string {
	for _, c := range s.deps.Health.Snapshot().Cameras {
		if c.ID == id {
			return c.Codec
		}
	}
	return ""
}
