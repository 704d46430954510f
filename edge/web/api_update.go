package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/edgerec/edgerec/policy/grants"
)

// Updates is the system updater (edge/update, issue 16, R21): a bundle
// uploaded on the LAN page is verified and staged; it is installed only
// under an approved update grant for its digest (four eyes), never by a
// remote command. nil = 503.
type Updates interface {
	// Stage stores and verifies an uploaded bundle. A refusal (unsigned,
	// wrongly signed, truncated, wrong device) wraps a kind.Invalid error
	// and changes nothing.
	Stage(ctx context.Context, r io.Reader) (UpdateStaged, error)
	// Apply consumes approved grant grantID (policy: once, audited) for
	// the staged bundle with digest and starts the installation.
	Apply(ctx context.Context, grantID, actorID, digest string) error
	// Status is the updater's state (any JSON-able value).
	Status() any
}

// UpdateStaged is a verified uploaded bundle.
type UpdateStaged struct {
	Digest  string `json:"digest"`
	Version string `json:"version"`
	Signer  string `json:"signer"`
	Size    int64  `json:"size"`
}

// updateValidity is how long an approved update may wait to be applied
// (the approval applies it at once).
const updateValidity = time.Hour

// updateUploadTime bounds one upload (a bundle is tens of MB on a LAN).
const updateUploadTime = 15 * time.Minute

// apiUploadUpdate: an admin uploads a bundle (the raw .raucb as the
// body). It is verified and staged, and an update request is filed for
// its digest: 202 with the request id; an approver's approval installs it.
func (s *Server) apiUploadUpdate(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Updates == nil {
		writeError(w, http.StatusServiceUnavailable, "updates are not available on this device")
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(updateUploadTime))
	_ = rc.SetWriteDeadline(time.Now().Add(updateUploadTime))
	st, err := s.deps.Updates.Stage(r.Context(), r.Body)
	if err != nil {
		noteOf(r).detail = clip("refused: "+stripPrefixes(err.Error()), 300)
		s.fail(w, r, err)
		return
	}
	g, err := s.pol.Request(r.Context(), who.ID, grants.Request{Action: grants.Update, Digest: st.Digest, Validity: updateValidity,
		Purpose: fmt.Sprintf("install system update %s (uploaded on the LAN page)", st.Version)})
	if err != nil {
		noteOf(r).detail = clip(err.Error(), 300)
		s.fail(w, r, err)
		return
	}
	noteOf(r).grant = g.ID
	noteOf(r).detail = clip("staged version="+st.Version+" digest="+st.Digest, 300)
	writeJSON(w, http.StatusAccepted, map[string]any{"state": "waiting_for_approval", "request": g.ID, "bundle": st,
		"message": "update " + st.Version + " waits for approval (request " + g.ID + ")"})
}

// apiUpdateStatus: the running slot and version, and any update in progress.
func (s *Server) apiUpdateStatus(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Updates == nil {
		writeError(w, http.StatusServiceUnavailable, "updates are not available on this device")
		return
	}
	writeJSON(w, http.StatusOK, s.deps.Updates.Status())
}

// applyUpdate runs after the approval of an update grant.
func (s *Server) applyUpdate(r *http.Request, g *grants.Grant, who principal) error {
	if s.deps.Updates == nil {
		return fmt.Errorf("%w: updates are not available on this device", ErrUnavailable)
	}
	return s.deps.Updates.Apply(r.Context(), g.ID, who.ID, g.Digest)
}
