package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/kind"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/users"
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
	s.log.Error("web: internal error", "method", r.Method, "path", cleanPath(r), "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

// Body limits.
const (
	maxJSONBody = 64 << 10
	maxSDPBody  = 64 << 10
)

var (
	errBodyTooLarge = errors.New("request body too large")
	errMediaType    = errors.New("request body must be application/json")
	errMalformed    = errors.New("malformed JSON")
)

// parseJSONBody decodes body (Content-Type ctype) strictly into v: JSON
// only, unknown fields and trailing data refused, bounded size. It is pure
// so that it can be fuzzed (FuzzParseJSONBody).
func parseJSONBody(ctype string, body []byte, v any) error {
	return parseJSONBodyMax(ctype, body, v, maxJSONBody)
}

// parseJSONBodyMax is parseJSONBody with its own size bound (the Settings
// page's uplink upload carries a CA bundle).
func parseJSONBodyMax(ctype string, body []byte, v any, max int) error {
	if len(body) > max {
		return errBodyTooLarge
	}
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil || mt != "application/json" {
		return errMediaType
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return fmt.Errorf("%w: field %q: want %s", errMalformed, te.Field, te.Type)
		case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return fmt.Errorf("%w: %s", errMalformed, "not valid JSON")
		default:
			// Unknown field and the like: encoding/json's message names
			// the field only.
			return fmt.Errorf("%w: %s", errMalformed, strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data", errMalformed)
	}
	return nil
}

// readBody reads r's body up to max bytes.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errBodyTooLarge
		}
		return nil, fmt.Errorf("%w: read body", errMalformed)
	}
	return b, nil
}

// decode reads and parses a JSON body; on failure it answers 413/415/400
// and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := readBody(w, r, maxJSONBody)
	if err == nil {
		err = parseJSONBody(r.Header.Get("Content-Type"), b, v)
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, errBodyTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
	case errors.Is(err, errMediaType):
		writeError(w, http.StatusUnsupportedMediaType, "request body must be application/json")
	default:
		writeError(w, http.StatusBadRequest, err.Error())
	}
	return false
}

// fail answers err: the known refusals with their 4xx and their message
// (they carry ids and reasons, never internals), anything else 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	// Packages classify their errors (policy/kind); the page maps classes,
	// not the sentinels of eight packages (issue 15).
	status := 0
	switch kind.Of(err) {
	case kind.NotFound:
		status = http.StatusNotFound
	case kind.Refused:
		status = http.StatusUnprocessableEntity
	case kind.Conflict:
		status = http.StatusConflict
	case kind.Forbidden:
		status = http.StatusForbidden
	case kind.Invalid:
		status = http.StatusBadRequest
	case kind.TooMany:
		status = http.StatusTooManyRequests
	case kind.Unavailable:
		status = http.StatusServiceUnavailable
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		status = 0
	} else if status == 0 && errors.Is(err, fs.ErrNotExist) {
		status = http.StatusNotFound
	}
	if status == 0 {
		s.internalError(w, r, err)
		return
	}
	writeError(w, status, clip(stripPrefixes(err.Error()), 500))
}

// stripPrefixes drops the package prefixes from an error message shown to
// a user.
func stripPrefixes(msg string) string {
	for _, p := range []string{"policy: ", "web: ", "live: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg
}

// need503 answers 503 when an optional collaborator is missing.
func need503(w http.ResponseWriter, present bool, what string) bool {
	if !present {
		writeError(w, http.StatusServiceUnavailable, what+" is not available on this device")
		return true
	}
	return false
}

// --- session ---

// loginResponse answers a successful API login or setup.
type loginResponse struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Role        perm.Role `json:"role"`
	IdleTimeout int       `json:"idle_timeout_s"`
	ExpiresAt   time.Time `json:"expires_at"`
	MustChange  bool      `json:"must_change"` // change the one-time password first (POST /api/v1/account/password)
}

func (s *Server) loginAnswer(w http.ResponseWriter, who principal) {
	writeJSON(w, http.StatusOK, loginResponse{ID: who.ID, User: who.User, Role: who.Role,
		IdleTimeout: int(sessionIdle / time.Second), ExpiresAt: s.now().Add(sessionAbsolute).UTC(), MustChange: who.MustChange})
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
	s.loginAnswer(w, res.who)
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request, who principal) {
	s.logout(w, r, who)
	w.WriteHeader(http.StatusNoContent)
}

// setupRequest is the body of POST /api/v1/setup.
type setupRequest struct {
	Code     string `json:"code"`
	User     string `json:"user"`
	Password string `json:"password"`
}

// setup runs first-run setup: the one-time code creates the first admin
// and dies (R11). Wrong codes are throttled per address like logins.
func (s *Server) setupRun(w http.ResponseWriter, r *http.Request, req setupRequest) loginResult {
	if !s.setup.pending() {
		return loginResult{status: http.StatusGone, msg: "setup is already done; sign in"}
	}
	addr, _ := remoteAddr(r)
	ak := addrKey(addr)
	if wait := s.addrT.wait(ak); wait > 0 {
		return loginResult{status: http.StatusTooManyRequests, msg: "too many failed attempts; try again later", retryAfter: wait}
	}
	if len(req.Code) > 64 || !s.setup.check(req.Code) {
		lock, burst := s.addrT.fail(ak)
		if burst {
			s.loginBurst(r, "setup", lock, 0)
		}
		_, _ = s.pol.Audit(context.WithoutCancel(r.Context()), audit.Event{Actor: policy.ActorAnonymous, Action: "setup",
			TargetKind: audit.KindDevice, Result: audit.ResultDenied, Detail: "wrong setup code from " + r.RemoteAddr})
		return loginResult{status: http.StatusForbidden, msg: "wrong setup code"}
	}
	p, err := s.pol.Bootstrap(r.Context(), req.User, []byte(req.Password))
	if err != nil {
		if errors.Is(err, policy.ErrInvalid) || errors.Is(err, users.ErrBadName) {
			msg := strings.ReplaceAll(err.Error(), "policy: ", "")
			return loginResult{status: http.StatusBadRequest, msg: clip(msg, 300)}
		}
		if errors.Is(err, policy.ErrForbidden) {
			_ = s.setup.consume()
			return loginResult{status: http.StatusGone, msg: "setup is already done; sign in"}
		}
		s.log.Error("web: bootstrap", "err", err)
		return loginResult{status: http.StatusInternalServerError, msg: "internal error"}
	}
	if err := s.setup.consume(); err != nil {
		s.log.Error("web: setup", "err", err)
	}
	s.addrT.reset(ak)
	s.log.Info("web: first admin created", "id", p.ID, "addr", r.RemoteAddr)
	return s.startSession(w, r, principalFrom(p))
}

func (s *Server) apiSetup(w http.ResponseWriter, r *http.Request, _ principal) {
	var req setupRequest
	if !decode(w, r, &req) {
		return
	}
	res := s.setupRun(w, r, req)
	if res.status != 0 {
		if res.retryAfter > 0 {
			setRetryAfter(w, res.retryAfter)
		}
		writeError(w, res.status, res.msg)
		return
	}
	s.loginAnswer(w, res.who)
}

// meResponse tells the page who is signed in and what the role may do.
type meResponse struct {
	principal
	Permissions []permission `json:"permissions"`
	Grants      []permission `json:"grant_permissions"`
	Device      string       `json:"device"`
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, who principal) {
	me := meResponse{principal: who, Permissions: []permission{}, Grants: []permission{}, Device: s.cfg.DeviceID}
	for _, row := range perm.Table() {
		switch s.matrix.Cell(who.Role, row.Perm) {
		case perm.Allow:
			if s.pol.Check(r.Context(), who.ID, row.Perm, "") == nil {
				me.Permissions = append(me.Permissions, row.Perm)
			}
		case perm.Grant:
			if !who.MustChange {
				me.Grants = append(me.Grants, row.Perm)
			}
		}
	}
	writeJSON(w, http.StatusOK, me)
}

// --- health ---

// healthFor is the health snapshot as who may see it: camera details only
// for roles that need them, within their scope (R19). Slices are never nil.
func (s *Server) healthFor(ctx context.Context, who principal) health.Snapshot {
	snap := s.deps.Health.Snapshot()
	var cams []health.Camera
	for _, c := range snap.Cameras {
		if s.pol.Check(ctx, who.ID, perm.CamerasRead, c.ID) == nil {
			cams = append(cams, c)
		}
	}
	snap.Cameras = cams
	if snap.Cameras == nil {
		snap.Cameras = []health.Camera{}
	}
	if snap.Warnings == nil {
		snap.Warnings = []string{}
	}
	if snap.Alerts == nil {
		snap.Alerts = []health.Alert{}
	}
	if s.cfg.RetentionFloor > 0 {
		snap.Storage.HorizonFloor = s.cfg.RetentionFloor
	}
	if snap.Storage.HorizonFloor > 0 && snap.Storage.Horizon > 0 && snap.Storage.Horizon < snap.Storage.HorizonFloor {
		msg := fmt.Sprintf("retention horizon %s is below the policy floor %s (R7)", formatDuration(snap.Storage.Horizon), formatDuration(snap.Storage.HorizonFloor))
		found := false
		for _, w := range snap.Warnings {
			if strings.Contains(w, "horizon") {
				found = true
			}
		}
		if !found {
			snap.Warnings = append(snap.Warnings, msg)
		}
	}
	return snap
}

func (s *Server) apiHealth(w http.ResponseWriter, r *http.Request, who principal) {
	writeJSON(w, http.StatusOK, s.healthFor(r.Context(), who))
}

// validID accepts the ids the device uses in paths: 1..64 of a-z, A-Z,
// 0-9, '-', '_' and '.', not starting with '.'. Anything else (traversal,
// Unicode look-alikes, control characters) is refused before any lookup.
func validID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return !strings.Contains(id, "..")
}

// apiSnapshot answers the latest masked picture of a camera as JPEG, with
// the viewer's identity and the time burned in (R18). Views are audited,
// coalesced to one record per viewer and camera every few minutes.
func (s *Server) apiSnapshot(w http.ResponseWriter, r *http.Request, who principal) {
	id := r.PathValue("id")
	note := noteOf(r)
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "bad camera id")
		return
	}
	note.skip = !s.seen.first(who.ID, id)
	ctx, cancel := context.WithTimeout(r.Context(), snapshotTimeout)
	defer cancel()
	select {
	case s.shotSem <- struct{}{}:
		defer func() { <-s.shotSem }()
	case <-ctx.Done():
		writeError(w, http.StatusServiceUnavailable, "snapshot unavailable")
		return
	}
	img, at, err := s.deps.Cameras.Snapshot(ctx, id)
	switch {
	case errors.Is(err, ErrUnknownCamera) || errors.Is(err, fs.ErrNotExist):
		writeError(w, http.StatusNotFound, "unknown camera")
		return
	case errors.As(err, new(interface{ UserReason() string })):
		// Issue 18: e.g. an H.265 camera: say why, not a bare 503.
		var re interface{ UserReason() string }
		errors.As(err, &re)
		writeError(w, http.StatusConflict, re.UserReason())
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
