package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/users"
)

// userView is a user as the API shows it: never the hash.
type userView struct {
	ID          string     `json:"id"`
	Name        string     `json:"user"`
	Role        string     `json:"role"`
	RoleGrant   string     `json:"role_grant,omitempty"`
	RoleExpires *time.Time `json:"role_expires,omitempty"`
	Cameras     []string   `json:"cameras"`
	Disabled    bool       `json:"disabled"`
	Reason      string     `json:"disabled_reason,omitempty"`
	Locked      bool       `json:"locked"`
	Trained     *time.Time `json:"trained,omitempty"`
	Created     *time.Time `json:"created,omitempty"`
	LastLogin   *time.Time `json:"last_login,omitempty"`
	LastUse     *time.Time `json:"last_use,omitempty"`
}

func tsp(n int64) *time.Time {
	if n == 0 {
		return nil
	}
	t := time.Unix(0, n).UTC()
	return &t
}

func viewUser(u *users.User, now time.Time) userView {
	v := userView{ID: u.ID, Name: u.Name, Role: u.CurrentRole(now), Cameras: slices.Clone(u.Cameras), Disabled: u.Disabled,
		Reason: u.DisabledReason, Locked: u.Locked(now), Trained: tsp(u.Trained), Created: tsp(u.Created),
		LastLogin: tsp(u.LastLogin), LastUse: tsp(u.LastUse)}
	if v.Role != "" {
		v.RoleGrant, v.RoleExpires = u.RoleGrant, tsp(u.RoleExpires)
	}
	if v.Cameras == nil {
		v.Cameras = []string{}
	}
	return v
}

// userNames maps user ids to login names (for showing grants).
func (s *Server) userNames(ctx context.Context) map[string]string {
	us, err := s.pol.Users(ctx)
	out := map[string]string{"system": "system"}
	if err != nil {
		return out
	}
	for _, u := range us {
		out[u.ID] = u.Name
	}
	return out
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request, _ principal) {
	us, err := s.pol.Users(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	out := make([]userView, 0, len(us))
	for i := range us {
		out = append(out, viewUser(&us[i], now))
	}
	slices.SortFunc(out, func(a, b userView) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

type createUserRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request, who principal) {
	var req createUserRequest
	if !decode(w, r, &req) {
		return
	}
	id, err := s.pol.CreateUser(r.Context(), who.ID, req.User, []byte(req.Password))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOf(r).target = id
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "user": req.User})
}

// roleRequest asks for a role assignment (R13).
type roleRequest struct {
	Role         string   `json:"role"`
	Cameras      []string `json:"cameras"`
	Purpose      string   `json:"purpose"`
	ValidityDays int      `json:"validity_days"`
	Supersedes   string   `json:"supersedes"`
}

// apiRequestRole files a role assignment for a user. It goes through the
// four-eyes flow: an approver approves it. The one exception the policy
// store allows — an admin assigning the first approver on a device that has
// none — is approved at once (and audited as such).
func (s *Server) apiRequestRole(w http.ResponseWriter, r *http.Request, who principal) {
	uid := r.PathValue("uid")
	var req roleRequest
	if !decode(w, r, &req) {
		return
	}
	if !validID(uid) {
		writeError(w, http.StatusBadRequest, "bad user id")
		return
	}
	if req.ValidityDays <= 0 {
		req.ValidityDays = 365
	}
	if req.ValidityDays > 3660 {
		writeError(w, http.StatusBadRequest, "validity_days out of range")
		return
	}
	if strings.TrimSpace(req.Purpose) == "" {
		req.Purpose = "role assignment"
	}
	g, err := s.pol.Request(r.Context(), who.ID, grants.Request{Action: grants.AssignRole, Purpose: req.Purpose,
		Validity: time.Duration(req.ValidityDays) * 24 * time.Hour, Subject: uid, Role: req.Role, Cameras: req.Cameras, Supersedes: req.Supersedes})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOf(r).grant = g.ID
	if req.Role == string(perm.Approver) && who.Role == perm.Admin {
		if ag, err := s.pol.Approve(r.Context(), who.ID, g.ID); err == nil {
			g = ag
		}
	}
	writeJSON(w, http.StatusCreated, s.viewGrant(&g, s.userNames(r.Context())))
}

type trainingRequest struct {
	Date string `json:"date"` // YYYY-MM-DD; "" clears
}

func (s *Server) apiTraining(w http.ResponseWriter, r *http.Request, who principal) {
	var req trainingRequest
	if !decode(w, r, &req) {
		return
	}
	var d time.Time
	if req.Date != "" {
		var err error
		if d, err = time.Parse(time.DateOnly, req.Date); err != nil {
			writeError(w, http.StatusBadRequest, "date must be YYYY-MM-DD")
			return
		}
	}
	if err := s.pol.SetTraining(r.Context(), who.ID, r.PathValue("uid"), d); err != nil {
		s.fail(w, r, err)
		return
	}
	s.sweepLive(r.Context()) // R15: an operator without training stops watching
	w.WriteHeader(http.StatusNoContent)
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) apiDisable(w http.ResponseWriter, r *http.Request, who principal) {
	var req reasonRequest
	if !decode(w, r, &req) {
		return
	}
	uid := r.PathValue("uid")
	if err := s.pol.SetDisabled(r.Context(), who.ID, uid, true, req.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	s.sess.removeUser(uid, "account disabled by "+who.ID)
	s.sweepLive(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiEnable(w http.ResponseWriter, r *http.Request, who principal) {
	if err := s.pol.SetDisabled(r.Context(), who.ID, r.PathValue("uid"), false, ""); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type passwordRequest struct {
	Old      string `json:"old"`
	Password string `json:"password"`
}

// apiResetPassword: an admin sets another user's password.
func (s *Server) apiResetPassword(w http.ResponseWriter, r *http.Request, who principal) {
	var req passwordRequest
	if !decode(w, r, &req) {
		return
	}
	uid := r.PathValue("uid")
	if uid == who.ID {
		writeError(w, http.StatusBadRequest, "change your own password under account")
		return
	}
	if err := s.pol.SetPassword(r.Context(), who.ID, uid, nil, []byte(req.Password)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.sess.removeUser(uid, "password reset by "+who.ID)
	s.sweepLive(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

// apiOwnPassword: a user changes their own password (needs the old one).
func (s *Server) apiOwnPassword(w http.ResponseWriter, r *http.Request, who principal) {
	var req passwordRequest
	if !decode(w, r, &req) {
		return
	}
	err := s.pol.SetPassword(r.Context(), who.ID, who.ID, []byte(req.Old), []byte(req.Password))
	if err != nil {
		if errors.Is(err, policy.ErrBadCredentials) {
			writeError(w, http.StatusForbidden, "the current password is wrong")
			return
		}
		s.fail(w, r, err)
		return
	}
	// The session that changed the password stays; every other session of
	// the user ends, and so do the live views opened under them.
	s.sess.removeUserExcept(who.ID, who.session, "password changed in another session", who.ID)
	s.sweepLive(r.Context())
	w.WriteHeader(http.StatusNoContent)
}
