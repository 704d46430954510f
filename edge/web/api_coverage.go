package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/edgerec/edgerec/policy/grants"
)

// coverageValidity is how long an approved coverage grant may wait to be
// applied (the approval applies it at once; the daemon applies one
// approved while it was down at its next start).
const coverageValidity = time.Hour

// pendingView answers a change that waits for approval (202).
type pendingView struct {
	State   string `json:"state"` // "waiting_for_approval"
	Request string `json:"request"`
	Camera  string `json:"camera"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// requestCoverage turns a *NeedsApproval from the camera manager into a
// coverage request filed for who (R27): 202 with the request id; nothing
// changed. It returns false if err is not such a refusal.
func (s *Server) requestCoverage(w http.ResponseWriter, r *http.Request, who principal, err error) bool {
	var na *NeedsApproval
	if !errors.As(err, &na) {
		return false
	}
	c := na.Change
	g, err := s.fileCoverage(r, who, c, "the cameras page")
	if err != nil {
		noteOf(r).detail = clip(err.Error(), 300)
		s.fail(w, r, err)
		return true
	}
	noteOf(r).grant = g.ID
	noteOf(r).detail = "waiting for approval: " + c.Kind
	writeJSON(w, http.StatusAccepted, pendingView{State: "waiting_for_approval", Request: g.ID, Camera: c.Camera, Kind: c.Kind,
		Message: "waiting for approval (request " + g.ID + ")"})
	return true
}

// fileCoverage files the coverage request of change c for who (R27),
// naming the page it was made on in the purpose.
func (s *Server) fileCoverage(r *http.Request, who principal, c CoverageChange, where string) (grants.Grant, error) {
	return s.pol.Request(r.Context(), who.ID, grants.Request{Action: grants.Coverage, Cameras: []string{c.Camera}, Kind: c.Kind, Digest: c.Digest,
		Validity: coverageValidity, Purpose: fmt.Sprintf("%s on camera %s (requested on %s)", c.Kind, c.Camera, where)})
}
