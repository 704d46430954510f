package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/edgerec/edgerec/edge/health"
)

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// apiError is the body of every JSON error.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// internalError logs err and answers 500 without details.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("web: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

// loginResponse answers a successful API login.
type loginResponse struct {
	User        string    `json:"user"`
	Role        role      `json:"role"`
	IdleTimeout int       `json:"idle_timeout_s"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request, _ principal) {
	req, err := readLogin(w, r)
	if err != nil {
		status, msg := loginParseStatus(err)
		writeError(w, status, msg)
		return
	}
	res := s.login(w, r, req)
	if res.status != 0 {
		if res.retryAfter > 0 {
			setRetryAfter(w, res.retryAfter)
		}
		writeError(w, res.status, res.msg)
		return
	}
	writeJSON(w, http.StatusOK, loginResponse{
		User:        res.who.User,
		Role:        res.who.Role,
		IdleTimeout: int(sessionIdle / time.Second),
		ExpiresAt:   s.now().Add(sessionAbsolute).UTC(),
	})
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request, who principal) {
	s.logout(w, r, who)
	w.WriteHeader(http.StatusNoContent)
}

// healthFor is the health snapshot as who may see it: camera details only for
// roles that need them (R19). Slices are never nil, so JSON has [] not null.
func (s *Server) healthFor(who principal) health.Snapshot {
	snap := s.deps.Health.Snapshot()
	if !s.accts.Allowed(who, permCamerasRead) {
		snap.Cameras = nil
	}
	if snap.Cameras == nil {
		snap.Cameras = []health.Camera{}
	}
	if snap.Warnings == nil {
		snap.Warnings = []string{}
	}
	return snap
}

func (s *Server) apiHealth(w http.ResponseWriter, _ *http.Request, who principal) {
	writeJSON(w, http.StatusOK, s.healthFor(who))
}

// knownCamera reports whether id is a camera in the health snapshot.
func (s *Server) knownCamera(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range s.deps.Health.Snapshot().Cameras {
		if c.ID == id {
			return true
		}
	}
	return false
}

// apiSnapshot answers the latest masked picture of a camera as JPEG, with the
// viewer's identity and the time burned in (R18).
func (s *Server) apiSnapshot(w http.ResponseWriter, r *http.Request, who principal) {
	id := r.PathValue("id")
	if !s.knownCamera(id) {
		writeError(w, http.StatusNotFound, "unknown camera")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
	defer cancel()
	select {
	case s.shotSem <- struct{}{}:
		defer func() { <-s.shotSem }()
	case <-ctx.Done():
		writeError(w, http.StatusServiceUnavailable, "snapshot unavailable")
		return
	}
	img, at, err := s.deps.Snapshots.Snapshot(ctx, id)
	switch {
	case errors.Is(err, ErrUnknownCamera) || errors.Is(err, fs.ErrNotExist):
		writeError(w, http.StatusNotFound, "unknown camera")
		return
	case err != nil:
		s.log.Warn("web: snapshot", "camera", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "snapshot unavailable")
		return
	case img == nil || img.Bounds().Empty():
		writeError(w, http.StatusServiceUnavailable, "snapshot unavailable")
		return
	}
	marked := watermark(img, fmt.Sprintf("%s | %s | %s", who.User, s.now().UTC().Format(time.RFC3339), s.cfg.DeviceID))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, marked, &jpeg.Options{Quality: 80}); err != nil {
		s.internalError(w, r, fmt.Errorf("encode snapshot of %s: %w", id, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if !at.IsZero() {
		h.Set("X-Frame-Time", at.UTC().Format(time.RFC3339Nano))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) apiNotFound(w http.ResponseWriter, _ *http.Request, _ principal) {
	writeError(w, http.StatusNotFound, "not found")
}
