package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
)

// grantView is a request or grant as the API shows it (R12, R13).
type grantView struct {
	ID             string     `json:"id"`
	Action         string     `json:"action"`
	Purpose        string     `json:"purpose"`
	Requester      string     `json:"requester"`
	RequesterName  string     `json:"requester_name"`
	RequesterRole  string     `json:"requester_role"`
	Cameras        []string   `json:"cameras"`
	From           *time.Time `json:"from,omitempty"`
	To             *time.Time `json:"to,omitempty"`
	Subject        string     `json:"subject,omitempty"`
	SubjectName    string     `json:"subject_name,omitempty"`
	Role           string     `json:"role,omitempty"`
	Kind           string     `json:"kind,omitempty"`   // coverage: remove, mask_reduce, zone_change, source_change, retention_reduce (R27)
	Digest         string     `json:"digest,omitempty"` // coverage: SHA-256 of the exact proposal
	State          string     `json:"state"`
	Created        *time.Time `json:"created,omitempty"`
	RequestExpires *time.Time `json:"request_expires,omitempty"`
	ValidityS      int64      `json:"validity_s"`
	Issued         *time.Time `json:"issued,omitempty"`
	Expires        *time.Time `json:"expires,omitempty"`
	Approvers      []string   `json:"approvers"`
	DecidedBy      string     `json:"decided_by,omitempty"`
	Reason         string     `json:"reason,omitempty"`
	Uses           uint64     `json:"uses"`
	LastUse        *time.Time `json:"last_use,omitempty"`
}

func (s *Server) viewGrant(g *grants.Grant, names map[string]string) grantView {
	v := grantView{ID: g.ID, Action: g.Action, Purpose: g.Purpose, Requester: g.Requester, RequesterName: names[g.Requester],
		RequesterRole: g.RequesterRole, Cameras: slices.Clone(g.Cameras), From: tsp(g.From), To: tsp(g.To), Subject: g.Subject,
		SubjectName: names[g.Subject], Role: g.Role, Kind: g.Kind, Digest: g.Digest, State: g.State(s.now()), Created: tsp(g.Created),
		RequestExpires: tsp(g.RequestExpires), ValidityS: g.Validity / int64(time.Second), Issued: tsp(g.Issued),
		Expires: tsp(g.Expires), DecidedBy: names[g.DecidedBy], Reason: g.Reason, Uses: g.Uses, LastUse: tsp(g.LastUse),
		Approvers: []string{}}
	if v.Cameras == nil {
		v.Cameras = []string{}
	}
	if v.DecidedBy == "" {
		v.DecidedBy = g.DecidedBy
	}
	for _, a := range g.Approvals {
		n := names[a.By]
		if n == "" {
			n = a.By
		}
		v.Approvers = append(v.Approvers, n)
	}
	return v
}

func (s *Server) listGrants(w http.ResponseWriter, r *http.Request, keep func(*grants.Grant) bool) {
	gs, err := s.pol.Grants(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := s.userNames(r.Context())
	out := []grantView{}
	for i := range gs {
		if keep(&gs[i]) {
			out = append(out, s.viewGrant(&gs[i], names))
		}
	}
	slices.SortFunc(out, func(a, b grantView) int {
		if a.Created != nil && b.Created != nil {
			return b.Created.Compare(*a.Created)
		}
		return strings.Compare(a.ID, b.ID)
	})
	writeJSON(w, http.StatusOK, out)
}

// apiGrants lists every request and grant (grants.read).
func (s *Server) apiGrants(w http.ResponseWriter, r *http.Request, _ principal) {
	s.listGrants(w, r, func(*grants.Grant) bool { return true })
}

// apiMyGrants lists the caller's own requests and role assignments.
func (s *Server) apiMyGrants(w http.ResponseWriter, r *http.Request, who principal) {
	s.listGrants(w, r, func(g *grants.Grant) bool { return g.Requester == who.ID || g.Subject == who.ID })
}

// footageRequest is the body of POST /api/v1/grants (R12).
type footageRequest struct {
	Action        string    `json:"action"` // playback, export, legal_hold
	Purpose       string    `json:"purpose"`
	Cameras       []string  `json:"cameras"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	ValidityHours float64   `json:"validity_hours"`
}

func (s *Server) apiRequestGrant(w http.ResponseWriter, r *http.Request, who principal) {
	var req footageRequest
	if !decode(w, r, &req) {
		return
	}
	if !grants.IsFootage(req.Action) {
		writeError(w, http.StatusBadRequest, "action must be playback, export or legal_hold")
		return
	}
	if req.ValidityHours <= 0 || req.ValidityHours > 24*400 {
		writeError(w, http.StatusBadRequest, "validity_hours must be positive")
		return
	}
	for _, c := range req.Cameras {
		if !validID(c) {
			writeError(w, http.StatusBadRequest, "bad camera id")
			return
		}
		if err := s.pol.Check(r.Context(), who.ID, perm.RecordingsReq, c); err != nil {
			writeError(w, http.StatusForbidden, "camera "+c+" is outside your scope")
			return
		}
	}
	g, err := s.pol.Request(r.Context(), who.ID, grants.Request{Action: req.Action, Purpose: req.Purpose, Cameras: req.Cameras,
		From: req.From, To: req.To, Validity: time.Duration(req.ValidityHours * float64(time.Hour))})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOf(r).grant = g.ID
	writeJSON(w, http.StatusCreated, s.viewGrant(&g, s.userNames(r.Context())))
}

func (s *Server) apiApprove(w http.ResponseWriter, r *http.Request, who principal) {
	gid := r.PathValue("gid")
	noteOf(r).grant = clip(gid, 64)
	g, err := s.pol.Approve(r.Context(), who.ID, gid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if g.Action == grants.Coverage {
		// R27: the approved change is applied now, exactly as proposed.
		if err := s.deps.Cameras.ApplyCoverage(r.Context(), g.ID, who.ID); err != nil {
			noteOf(r).detail = clip(err.Error(), 300)
			s.fail(w, r, err)
			return
		}
		noteOf(r).detail = "coverage change applied"
		if g2, err := s.pol.Grant(r.Context(), g.ID); err == nil {
			g = g2
		}
	}
	if g.Action == grants.Update {
		// Issue 16: the approved bundle is installed now (in the
		// background; GET /api/v1/update follows it).
		if err := s.applyUpdate(r, &g, who); err != nil {
			noteOf(r).detail = clip(err.Error(), 300)
			s.fail(w, r, err)
			return
		}
		noteOf(r).detail = "update installing"
	}
	s.sweepLive(r.Context()) // a new role assignment may narrow a camera scope
	writeJSON(w, http.StatusOK, s.viewGrant(&g, s.userNames(r.Context())))
}

func (s *Server) apiDeny(w http.ResponseWriter, r *http.Request, who principal) {
	var req reasonRequest
	if !decode(w, r, &req) {
		return
	}
	gid := r.PathValue("gid")
	noteOf(r).grant = clip(gid, 64)
	g, err := s.pol.Deny(r.Context(), who.ID, gid, req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewGrant(&g, s.userNames(r.Context())))
}

// apiReleaseHold: an approver who did not request it releases a legal hold
// (R8), also after its grant expired; the daemon then releases the stored
// hold. The store decides and audits a refusal.
func (s *Server) apiReleaseHold(w http.ResponseWriter, r *http.Request, who principal) {
	var req reasonRequest
	if !decode(w, r, &req) {
		return
	}
	gid := r.PathValue("gid")
	noteOf(r).grant = clip(gid, 64)
	g, err := s.pol.ReleaseHold(r.Context(), who.ID, gid, req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewGrant(&g, s.userNames(r.Context())))
}

// apiRevoke: the requester or a role with grants.revoke (the store decides
// and audits a refusal).
func (s *Server) apiRevoke(w http.ResponseWriter, r *http.Request, who principal) {
	var req reasonRequest
	if !decode(w, r, &req) {
		return
	}
	gid := r.PathValue("gid")
	noteOf(r).grant = clip(gid, 64)
	g, err := s.pol.Revoke(r.Context(), who.ID, gid, req.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if g.Action == grants.AssignRole {
		s.sess.removeUser(g.Subject, "role assignment "+g.ID+" revoked by "+who.ID)
	}
	s.sweepLive(r.Context())
	writeJSON(w, http.StatusOK, s.viewGrant(&g, s.userNames(r.Context())))
}
