package web

import (
	"net/http"
	"time"

	"github.com/edgerec/edgerec/policy/review"
)

type visitRequest struct {
	Cameras []string `json:"cameras"`
	Work    string   `json:"work"`
}

// apiRecordVisit records a maintenance visit (issue 18): the cameras named
// must exist; the text stays on the device, upstream gets the counts.
func (s *Server) apiRecordVisit(w http.ResponseWriter, r *http.Request, who principal) {
	var req visitRequest
	if !decode(w, r, &req) {
		return
	}
	for _, id := range req.Cameras {
		if !validID(id) {
			writeError(w, http.StatusBadRequest, "bad camera id in cameras")
			return
		}
		if _, err := s.deps.Cameras.Get(r.Context(), id); err != nil {
			writeError(w, http.StatusBadRequest, "cameras: no camera "+id+" on this device")
			return
		}
	}
	v, err := s.pol.RecordVisit(r.Context(), who.ID, req.Cameras, req.Work)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.deps.Alerts != nil {
		now := s.now()
		recent, err := s.pol.Visits(r.Context(), who.ID, now.Add(-review.VisitWindow), now.Add(time.Second))
		if err == nil {
			s.deps.Alerts.MaintenanceVisit(len(v.Cameras), len(recent))
		}
	}
	writeJSON(w, http.StatusCreated, v)
}

// apiVisits lists maintenance visits in [from, to) (default: the last 90
// days).
func (s *Server) apiVisits(w http.ResponseWriter, r *http.Request, who principal) {
	q := r.URL.Query()
	if q.Get("from") == "" && q.Get("to") == "" {
		now := s.now()
		q.Set("from", now.Add(-review.VisitWindow).UTC().Format(time.RFC3339))
		q.Set("to", now.Add(time.Second).UTC().Format(time.RFC3339))
	}
	from, to, err := parseRange(q, s.now(), 400*24*time.Hour)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	vs, err := s.pol.Visits(r.Context(), who.ID, from, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}
