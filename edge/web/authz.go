package web

import (
	"net/http"
)

// route is one row of the route table: a ServeMux pattern, the permission it
// requires and its handler. The table is data; authorize is the only place
// that decides.
type route struct {
	pattern string
	need    permission
	api     bool // JSON answers (401/403 as JSON) rather than page answers
	handle  func(w http.ResponseWriter, r *http.Request, who principal)
}

// routes is the route table. Add a route here, never by calling mux.Handle
// elsewhere, so that nothing bypasses authorize.
func (s *Server) routes() []route {
	return []route{
		// JSON API (DESIGN §5).
		{"POST /api/v1/login", permPublic, true, s.apiLogin},
		{"POST /api/v1/logout", permSession, true, s.apiLogout},
		{"GET /api/v1/health", permHealthRead, true, s.apiHealth},
		{"GET /api/v1/cameras/{id}/snapshot", permCameraLive, true, s.apiSnapshot},
		// Anything else under /api/v1/: 401 without a session (no route
		// discovery), 404 JSON with one.
		{"/api/v1/", permSession, true, s.apiNotFound},

		// Page.
		{"GET /{$}", permPublic, false, s.pageIndex},
		{"POST /login", permPublic, false, s.pageLogin},
		{"POST /logout", permPublic, false, s.pageLogout},
		{"GET /static/{name}", permPublic, false, s.pageStatic},
	}
}

func (s *Server) registerRoutes(mux *http.ServeMux) {
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.guard(rt))
	}
}

// authorize is the one authorization function: it resolves the session of r
// and decides whether it may use a route that needs perm. It returns the
// principal (zero without a session) and 0, or the HTTP status to answer:
// 401 without a valid session, 403 when the role lacks perm (R11).
func (s *Server) authorize(r *http.Request, need permission) (principal, int) {
	who, ok := s.sessionOf(r)
	if need == permPublic {
		return who, 0
	}
	if !ok {
		return principal{}, http.StatusUnauthorized
	}
	if !s.accts.Allowed(who, need) {
		return who, http.StatusForbidden
	}
	return who, 0
}

// guard applies authorize to a route.
func (s *Server) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, status := s.authorize(r, rt.need)
		switch status {
		case 0:
			rt.handle(w, r, who)
			return
		case http.StatusForbidden:
			s.log.Warn("web: forbidden", "user", who.User, "role", who.Role, "permission", rt.need,
				"method", r.Method, "path", r.URL.Path, "addr", r.RemoteAddr)
		}
		if rt.api {
			msg := "authentication required"
			if status == http.StatusForbidden {
				msg = "forbidden"
			}
			writeError(w, status, msg)
			return
		}
		if status == http.StatusUnauthorized {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		http.Error(w, "forbidden", status)
	})
}

// sessionOf returns the principal of the session cookie in r, if any.
func (s *Server) sessionOf(r *http.Request) (principal, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return principal{}, false
	}
	return s.sess.lookup(c.Value)
}
