package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/perm"
)

// route is one row of the route table: a ServeMux pattern, the permission
// it requires (a row of the policy table) and its handler. The table is
// data; authorize is the only place that decides.
type route struct {
	pattern string
	need    permission
	// alt, if set, is a second permission that passes the route as well
	// (either one; the Settings page: network.manage or config.change).
	alt permission
	api bool // JSON answers (401/403 as JSON) rather than page answers
	// viaGrant: need is a "grant" cell; the role passes the route only if
	// it may hold such a grant, and the handler must call UseGrant.
	viaGrant bool
	// camera: the path value "id" is a camera; the user's camera scope and
	// (operators) training apply (policy.Check with that camera).
	camera bool
	// action is the audit action of every call ("" = not audited beyond
	// refusals); kind is the audit target kind.
	action string
	kind   string
	// token: a scraper may pass with the metrics token instead of a session.
	token  bool
	handle func(w http.ResponseWriter, r *http.Request, who principal)
}

func api(pattern string, need permission, h func(http.ResponseWriter, *http.Request, principal)) route {
	return route{pattern: pattern, need: need, api: true, handle: h}
}

func page(pattern string, need permission, h func(http.ResponseWriter, *http.Request, principal)) route {
	return route{pattern: pattern, need: need, handle: h}
}

func (rt route) cam() route                        { rt.camera = true; return rt }
func (rt route) or(p permission) route             { rt.alt = p; return rt }
func (rt route) grant() route                      { rt.viaGrant = true; return rt }
func (rt route) audited(action, kind string) route { rt.action, rt.kind = action, kind; return rt }

func (s *Server) registerRoutes(mux *http.ServeMux) {
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.guard(rt))
	}
}

// decision is what authorize found.
type decision struct {
	who    principal
	status int    // 0 = allowed
	reason string // why refused (for the audit record, not the answer)
}

// authorize is the one authorization function. It resolves the session of
// r, re-reads the user from the policy store and decides with the policy
// permission table (policy.Store.Check: enabled account, current role,
// camera scope, training for video) whether the route may run:
// 401 without a valid session, 403 when the table says no (R11).
func (s *Server) authorize(r *http.Request, rt route) decision {
	if rt.token && s.metricsTokenOK(r) {
		return decision{who: principal{ID: "metrics-token", User: "metrics-token"}}
	}
	sid, ok := s.sessionOf(r)
	if rt.need == permPublic {
		if ok {
			if p, err := s.pol.Principal(r.Context(), sid.ID); err == nil {
				return decision{who: principalFrom(p)}
			}
		}
		return decision{}
	}
	if !ok {
		return decision{status: http.StatusUnauthorized, reason: "no valid session"}
	}
	p, err := s.pol.Principal(r.Context(), sid.ID)
	if err != nil {
		s.sess.removeUser(sid.ID, "account gone")
		s.sweepLive(r.Context())
		return decision{status: http.StatusUnauthorized, reason: "session user gone"}
	}
	who := principalFrom(p)
	who.session = sid.session
	if rt.need == permSession {
		return decision{who: who}
	}
	camera := ""
	if rt.camera {
		camera = r.PathValue("id")
	}
	need := rt.need
	if rt.alt != "" && s.matrix.Cell(who.Role, need) != perm.Allow && s.matrix.Cell(who.Role, rt.alt) == perm.Allow {
		need = rt.alt
	}
	switch cell := s.matrix.Cell(who.Role, need); {
	case rt.need == perm.OwnAccountWrite:
		// Every enabled account may change its own password, with a role or
		// without (a new account must replace its one-time password first).
		if err := s.pol.Check(r.Context(), who.ID, rt.need, ""); err != nil {
			return decision{who: who, status: http.StatusForbidden, reason: err.Error()}
		}
		return decision{who: who}
	case who.MustChange:
		return decision{who: who, status: http.StatusForbidden, reason: "password change required"}
	case who.Role == "":
		return decision{who: who, status: http.StatusForbidden, reason: "no current role"}
	case cell == perm.Grant && rt.viaGrant:
		// The handler calls UseGrant, which checks the grant, scope and
		// training and audits the use.
		return decision{who: who}
	case cell == perm.Allow:
		if err := s.pol.Check(r.Context(), who.ID, need, camera); err != nil {
			if !errors.Is(err, policy.ErrForbidden) {
				s.log.Error("web: permission check", "user", who.ID, "permission", need, "err", err)
			}
			return decision{who: who, status: http.StatusForbidden, reason: err.Error()}
		}
		return decision{who: who}
	case rt.alt != "":
		return decision{who: who, status: http.StatusForbidden, reason: fmt.Sprintf("role %q lacks %s and %s", who.Role, rt.need, rt.alt)}
	default:
		return decision{who: who, status: http.StatusForbidden, reason: fmt.Sprintf("role %q lacks %s", who.Role, rt.need)}
	}
}

// auditNote lets a handler add the grant id, target or detail to the
// audit record the guard writes for an audited route.
type auditNote struct {
	grant, target, detail string
	skip                  bool // the handler audited itself (e.g. coalesced views)
}

type auditKey struct{}

func noteOf(r *http.Request) *auditNote {
	if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
		return n
	}
	return &auditNote{}
}

// guard applies authorize to a route, audits refusals and audited calls,
// and counts the answer for /metrics.
func (s *Server) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		d := s.authorize(r, rt)
		sw := &statusWriter{ResponseWriter: w}
		defer func() { s.met.observe(rt.pattern, sw.code(), time.Since(start)) }()
		if d.status == http.StatusUnauthorized {
			// Anonymous: 401 before anything else (no route discovery).
			s.refuse(sw, r, rt, d)
			return
		}
		if param := badPathID(r, rt); param != "" {
			// An id that cannot exist: one clear 400 and one audit record
			// with a sanitized target, before any lookup (issue 12).
			s.auditBadID(r, rt, d, param)
			if rt.api {
				writeError(sw, http.StatusBadRequest, fmt.Sprintf("bad id: %s is not a valid %s id", param, idWhat(rt, param)))
				return
			}
			s.render(sw, r, http.StatusBadRequest, "error.html", errorView{Device: s.cfg.DeviceID, Who: d.who,
				Title: "Bad address", Text: "This address names something that cannot exist.", Nav: s.nav(r.Context(), d.who)})
			return
		}
		if d.status == 0 {
			if rt.action == "" {
				rt.handle(sw, r, d.who)
				return
			}
			note := &auditNote{}
			r = r.WithContext(context.WithValue(r.Context(), auditKey{}, note))
			rt.handle(sw, r, d.who)
			if !note.skip {
				s.auditCall(r, rt, d.who, sw.code(), note)
			}
			return
		}
		s.refuse(sw, r, rt, d)
	})
}

// refuse audits a refusal and answers it: 401/403 JSON for the API, a
// redirect to the login page or a 403 page for pages.
func (s *Server) refuse(sw http.ResponseWriter, r *http.Request, rt route, d decision) {
	s.auditRefusal(r, rt, d)
	if rt.api {
		msg := "authentication required"
		if d.status == http.StatusForbidden {
			msg = "forbidden"
		}
		writeError(sw, d.status, msg)
		return
	}
	if d.status == http.StatusUnauthorized {
		http.Redirect(sw, r, "/", http.StatusSeeOther)
		return
	}
	s.render(sw, r, http.StatusForbidden, "error.html", errorView{Device: s.cfg.DeviceID, Who: d.who,
		Title: "Not allowed", Text: "Your role does not allow this page.", Nav: s.nav(r.Context(), d.who)})
}

// pathIDs are the route wildcards that carry ids; the first one present is
// an audit record's target.
var pathIDs = []string{"id", "uid", "gid", "xid", "sid", "part"}

// badPathID returns the first path id of r that validID refuses, or "".
func badPathID(r *http.Request, rt route) string {
	for _, k := range pathIDs {
		if strings.Contains(rt.pattern, "{"+k+"}") && !validID(r.PathValue(k)) {
			return k
		}
	}
	return ""
}

// idWhat names what a path id is, for the error message.
func idWhat(rt route, param string) string {
	switch param {
	case "id":
		if rt.camera {
			return "camera"
		}
	case "uid":
		return "user"
	case "gid":
		return "grant"
	case "xid":
		return "export"
	case "sid":
		return "session"
	case "part":
		return "part"
	}
	return "path"
}

// sanitizeID is an audit target for an id that cannot exist: a short hash
// that tells equal garbage apart without keeping its bytes (R19: the raw
// string never reaches the audit log nor, through it, the uplink).
func sanitizeID(v string) string {
	h := sha256.Sum256([]byte(v))
	return "invalid-id-" + hex.EncodeToString(h[:6])
}

// auditBadID writes the one record of a request with an impossible path
// id: the route's own action (failed) when the caller may use an audited
// route, http.bad_id otherwise.
func (s *Server) auditBadID(r *http.Request, rt route, d decision, param string) {
	actor, action, res := d.who.ID, "http.bad_id", audit.ResultFailed
	if d.status != 0 {
		res = audit.ResultDenied
	} else if rt.action != "" {
		action = rt.action
	}
	kind, target := s.targetOf(r, rt)
	ev := audit.Event{Actor: actor, Action: action, TargetKind: kind, Target: target, Result: res,
		Detail: clip(fmt.Sprintf("%s %s -> 400 bad %s; addr %s", r.Method, cleanPath(r), param, r.RemoteAddr), 1000)}
	if _, err := s.pol.Audit(context.WithoutCancel(r.Context()), ev); err != nil {
		s.log.Error("web: audit bad id", "err", err)
	}
	s.log.Warn("web: bad path id", "user", d.who.ID, "param", param, "method", r.Method, "path", cleanPath(r), "addr", r.RemoteAddr)
}

// auditRefusal writes a denied record for a refused call (R16). Refusals of
// anonymous callers are rate-limited (a flood of unauthenticated requests
// must not grow the audit chain without bound); refusals of signed-in users
// are always written.
func (s *Server) auditRefusal(r *http.Request, rt route, d decision) {
	actor, action := d.who.ID, "http.forbidden"
	if d.status == http.StatusUnauthorized {
		actor, action = policy.ActorAnonymous, "http.unauthenticated"
		if !s.denyL.Allow() {
			s.log.Warn("web: unauthenticated request (audit rate-limited)", "method", r.Method, "path", cleanPath(r), "addr", r.RemoteAddr)
			return
		}
	}
	kind, target := s.targetOf(r, rt)
	ev := audit.Event{Actor: actor, Action: action, TargetKind: kind, Target: target, Result: audit.ResultDenied,
		Detail: clip(fmt.Sprintf("%s %s needs %s: %s; addr %s", r.Method, cleanPath(r), rt.need, d.reason, r.RemoteAddr), 1000)}
	if _, err := s.pol.Audit(context.WithoutCancel(r.Context()), ev); err != nil {
		s.log.Error("web: audit refusal", "err", err)
	}
	s.log.Warn("web: refused", "status", d.status, "user", d.who.ID, "permission", rt.need, "method", r.Method,
		"path", cleanPath(r), "addr", r.RemoteAddr)
}

// auditCall writes the record of an audited call: who, what, the target,
// the grant (when the handler used one) and the outcome.
func (s *Server) auditCall(r *http.Request, rt route, who principal, status int, note *auditNote) {
	kind, target := s.targetOf(r, rt)
	if note.target != "" {
		target = note.target
		if !validID(target) {
			target = sanitizeID(target)
		}
	}
	res := audit.ResultOK
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		res = audit.ResultDenied
	case status >= 400:
		res = audit.ResultFailed
	}
	detail := fmt.Sprintf("%s %s -> %d", r.Method, cleanPath(r), status)
	if note.detail != "" {
		detail += "; " + note.detail
	}
	ev := audit.Event{Actor: who.ID, Action: rt.action, TargetKind: kind, Target: clip(target, 200), Grant: note.grant,
		Result: res, Detail: clip(detail, 1500)}
	if _, err := s.pol.Audit(context.WithoutCancel(r.Context()), ev); err != nil {
		s.log.Error("web: audit", "action", rt.action, "err", err)
	}
}

// targetOf names the route's target for an audit record: the first
// invalid path id, sanitized, or else the first path id. Camera routes
// record kind camera (the uplink hashes camera ids, R19).
func (s *Server) targetOf(r *http.Request, rt route) (kind, target string) {
	kind = rt.kind
	if kind == "" {
		kind = audit.KindDevice
		if rt.camera {
			kind = audit.KindCamera
		}
	}
	if p := badPathID(r, rt); p != "" {
		return kind, sanitizeID(r.PathValue(p))
	}
	for _, k := range pathIDs[:4] {
		if v := r.PathValue(k); v != "" {
			return kind, v
		}
	}
	return kind, ""
}

// cleanPath is the request path, bounded and free of control characters,
// for logs and audit details.
func cleanPath(r *http.Request) string {
	p := r.URL.EscapedPath()
	return clip(strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return '?'
		}
		return c
	}, p), 200)
}

// clip bounds s to n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// sessionOf returns the principal of the session cookie in r, if any.
func (s *Server) sessionOf(r *http.Request) (principal, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return principal{}, false
	}
	return s.sess.lookup(c.Value)
}

// statusWriter records the status code; Unwrap keeps http.ResponseController
// (flush, deadlines) working for streaming answers.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// recoverer turns a handler panic into a 500 without details (the panic is
// logged); http.ErrAbortHandler passes through.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("web: panic", "method", r.Method, "path", cleanPath(r), "panic", fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
