package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
)

const (
	maxLoginBody   = 4 << 10
	maxUserLen     = 64
	maxPasswordLen = 256
)

// loginRequest is the body of POST /login and POST /api/v1/login, as a form
// (user, password) or as JSON {"user": …, "password": …}.
type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

var (
	errLoginMalformed = errors.New("web: malformed login request")
	errLoginMediaType = errors.New("web: login request must be a form or JSON")
	errLoginTooLarge  = errors.New("web: login request too large")
)

// parseLogin parses a login body of the given Content-Type. It is pure so that
// it can be fuzzed (FuzzParseLogin).
func parseLogin(contentType string, body []byte) (loginRequest, error) {
	if len(body) > maxLoginBody {
		return loginRequest{}, errLoginTooLarge
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return loginRequest{}, errLoginMediaType
	}
	var req loginRequest
	switch mt {
	case "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return loginRequest{}, fmt.Errorf("%w: %w", errLoginMalformed, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return loginRequest{}, fmt.Errorf("%w: trailing data", errLoginMalformed)
		}
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return loginRequest{}, fmt.Errorf("%w: %w", errLoginMalformed, err)
		}
		if len(vals["user"]) != 1 || len(vals["password"]) != 1 {
			return loginRequest{}, fmt.Errorf("%w: need one user and one password", errLoginMalformed)
		}
		req.User, req.Password = vals.Get("user"), vals.Get("password")
	default:
		return loginRequest{}, errLoginMediaType
	}
	if !validUserName(req.User) {
		return loginRequest{}, fmt.Errorf("%w: bad user name", errLoginMalformed)
	}
	// Passwords are UTF-8 (what browsers send from a UTF-8 page, and what
	// JSON carries), so the form and the JSON paths accept the same strings.
	if req.Password == "" || len(req.Password) > maxPasswordLen || !utf8.ValidString(req.Password) {
		return loginRequest{}, fmt.Errorf("%w: bad password", errLoginMalformed)
	}
	return req, nil
}

// validUserName accepts 1..64 bytes of UTF-8 without control characters, so
// a name is always safe to log and to use as a throttle key.
func validUserName(u string) bool {
	if u == "" || len(u) > maxUserLen || !utf8.ValidString(u) {
		return false
	}
	for _, r := range u {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// readLogin reads and parses the login body of r.
func readLogin(w http.ResponseWriter, r *http.Request) (loginRequest, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLoginBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return loginRequest{}, errLoginTooLarge
		}
		return loginRequest{}, fmt.Errorf("%w: read body: %w", errLoginMalformed, err)
	}
	return parseLogin(r.Header.Get("Content-Type"), body)
}

// loginParseStatus maps a parse error to an HTTP status and a message.
func loginParseStatus(err error) (int, string) {
	switch {
	case errors.Is(err, errLoginTooLarge):
		return http.StatusRequestEntityTooLarge, "login request too large"
	case errors.Is(err, errLoginMediaType):
		return http.StatusUnsupportedMediaType, "login request must be a form or JSON"
	default:
		return http.StatusBadRequest, "malformed login request"
	}
}

// loginResult is the outcome of one login attempt.
type loginResult struct {
	who        principal
	status     int           // 0 on success
	msg        string        // for the user; never internal details
	retryAfter time.Duration // with 429
}

// login runs one attempt (shared by the page and the API): throttle check,
// argon2id check, throttle bookkeeping, session and cookie. R22.
func (s *Server) login(w http.ResponseWriter, r *http.Request, req loginRequest) loginResult {
	addr, _ := remoteAddr(r)
	ak := addrKey(addr)
	pk := pairKey(ak, req.User)

	throttled := func() (loginResult, bool) {
		pw, aw := s.pairT.wait(pk), s.addrT.wait(ak)
		wait := max(pw, aw)
		if wait <= 0 {
			return loginResult{}, false
		}
		s.log.Warn("web: login throttled", "user", req.User, "addr", r.RemoteAddr, "retry_after", wait.Round(time.Second))
		until := s.now().Add(wait).UTC().Format("15:04:05 MST")
		msg := "too many failed logins for this account from your address; locked until " + until + " (other addresses are not affected)"
		if aw > pw {
			msg = "too many failed logins from your address; locked until " + until
		}
		return loginResult{status: http.StatusTooManyRequests, msg: msg, retryAfter: wait}, true
	}
	// Check before queueing (a locked client costs no KDF run) and again
	// inside the critical section, so parallel attempts see each other's
	// failures instead of all slipping past the first check.
	if res, ok := throttled(); ok {
		return res
	}
	select {
	case s.hashSem <- struct{}{}:
	case <-r.Context().Done():
		return loginResult{status: http.StatusServiceUnavailable, msg: "busy; try again"}
	}
	if res, ok := throttled(); ok {
		<-s.hashSem
		return res
	}
	pp, err := s.pol.Authenticate(r.Context(), req.User, []byte(req.Password))
	who := principalFrom(pp)
	var aLock, uLock time.Duration
	var aBurst, uBurst bool
	if errors.Is(err, policy.ErrBadCredentials) {
		aLock, aBurst = s.addrT.fail(ak)
		uLock, uBurst = s.pairT.fail(pk)
	}
	<-s.hashSem

	switch {
	case errors.Is(err, policy.ErrBadCredentials):
		s.log.Warn("web: login failed", "user", req.User, "addr", r.RemoteAddr)
		if aBurst || uBurst {
			s.loginBurst(r, req.User, aLock, uLock)
		}
		return loginResult{status: http.StatusUnauthorized, msg: "invalid user name or password"}
	case err != nil:
		s.log.Error("web: login error", "user", req.User, "addr", r.RemoteAddr, "err", err)
		return loginResult{status: http.StatusInternalServerError, msg: "internal error"}
	}

	s.pairT.reset(pk) // only this address × account: the address's count stays
	return s.startSession(w, r, who)
}

// loginBurst raises the R22 event for a burst of failed logins: a warning
// log record, Deps.Alerts (the daemon: upstream login.burst event and a
// front-panel alert) and an audit record.
func (s *Server) loginBurst(r *http.Request, user string, aLock, uLock time.Duration) {
	s.log.Warn("web: failed-login burst", "kind", "login_burst", "user", user, "addr", r.RemoteAddr,
		"address_locked_for", aLock, "account_locked_for", uLock)
	s.met.loginBursts.Inc()
	if s.deps.Alerts != nil {
		p := pairThrottlePolicy()
		s.deps.Alerts.LoginBurst(p.free+1, p.forget)
	}
	_, err := s.pol.Audit(context.WithoutCancel(r.Context()), audit.Event{Actor: policy.ActorAnonymous, Action: "login.burst",
		TargetKind: audit.KindDevice, Result: audit.ResultDenied,
		Detail: clip(fmt.Sprintf("burst of failed logins from %s (account locked %s, address locked %s)", r.RemoteAddr, uLock, aLock), 500)})
	if err != nil {
		s.log.Error("web: audit login burst", "err", err)
	}
}

// startSession creates a session for who and sets the cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, who principal) loginResult {
	if old, err := r.Cookie(sessionCookie); err == nil {
		s.sess.remove(old.Value, "signed in again", who.ID)
	}
	token, err := s.sess.create(who)
	if errors.Is(err, errSessionsFull) {
		s.log.Warn("web: login refused: session limit", "user", who.User, "addr", r.RemoteAddr, "max", maxSessions)
		_, _ = s.pol.Audit(context.WithoutCancel(r.Context()), audit.Event{Actor: who.ID, Action: "login", TargetKind: audit.KindUser,
			Target: who.ID, Result: audit.ResultDenied, Detail: fmt.Sprintf("device session limit (%d) reached; from %s", maxSessions, r.RemoteAddr)})
		return loginResult{status: http.StatusServiceUnavailable, msg: errSessionsFull.Error()}
	}
	if err != nil {
		s.log.Error("web: create session", "err", err)
		return loginResult{status: http.StatusInternalServerError, msg: "internal error"}
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		MaxAge:   int(sessionAbsolute / time.Second),
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	})
	s.log.Info("web: login", "user", who.User, "id", who.ID, "role", who.Role, "addr", r.RemoteAddr)
	return loginResult{who: who}
}

// logout ends the session of r, if any, and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, who principal) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		actor := who.ID
		if actor == "" {
			actor = policy.ActorSystem
		}
		s.sess.remove(c.Value, "logout", actor)
		s.sweepLive(r.Context())
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
	if who.ID != "" {
		s.log.Info("web: logout", "user", who.User, "addr", r.RemoteAddr)
		_, _ = s.pol.Audit(context.WithoutCancel(r.Context()), audit.Event{Actor: who.ID, Action: "logout", TargetKind: audit.KindUser,
			Target: who.ID, Result: audit.ResultOK})
	}
}

// setRetryAfter sets Retry-After in whole seconds, rounded up.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int64((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}
