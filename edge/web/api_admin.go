package web

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/review"
)

// --- review (R14) ---

func (s *Server) apiReview(w http.ResponseWriter, r *http.Request, _ principal) {
	rep, err := s.pol.Review(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type account struct {
		ID, Name, Role, RoleGrant                              string
		Cameras, ActiveGrants                                  []string
		Disabled, Stale, Disable                               bool
		LastLogin, LastUse, LastActivity, Trained, RoleExpires *time.Time
		Note                                                   string
	}
	t := func(x time.Time) *time.Time {
		if x.IsZero() {
			return nil
		}
		return &x
	}
	text := rep.Text(s.cfg.Location)
	if s.cfg.Site != "" || s.cfg.Filing != "" {
		text = fmt.Sprintf("Device %s, site %q, filing number %q (R4)\n%s", s.cfg.DeviceID, s.cfg.Site, s.cfg.Filing, text)
	}
	out := struct {
		At       time.Time      `json:"at"`
		Device   string         `json:"device"`
		Site     string         `json:"site,omitempty"`
		Filing   string         `json:"filing,omitempty"`
		Accounts []account      `json:"accounts"`
		Visits   []review.Visit `json:"visits"`
		Text     string         `json:"text"`
	}{At: rep.At, Device: s.cfg.DeviceID, Site: s.cfg.Site, Filing: s.cfg.Filing, Accounts: []account{}, Visits: append([]review.Visit{}, rep.Visits...), Text: text}
	for _, a := range rep.Accounts {
		out.Accounts = append(out.Accounts, account{ID: a.ID, Name: a.Name, Role: a.Role, RoleGrant: a.RoleGrant,
			Cameras: a.Cameras, ActiveGrants: a.ActiveGrants, Disabled: a.Disabled, Stale: a.Stale, Disable: a.Disable,
			LastLogin: t(a.LastLogin), LastUse: t(a.LastUse), LastActivity: t(a.LastActivity), Trained: t(a.Trained),
			RoleExpires: t(a.RoleExpires), Note: a.Note})
	}
	writeJSON(w, http.StatusOK, out)
}

// --- audit log (R16) ---

type recordView struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Actor      string    `json:"actor"`
	ActorName  string    `json:"actor_name,omitempty"`
	Action     string    `json:"action"`
	TargetKind string    `json:"target_kind,omitempty"`
	Target     string    `json:"target,omitempty"`
	Grant      string    `json:"grant,omitempty"`
	Result     string    `json:"result"`
	Detail     string    `json:"detail,omitempty"`
	Prev       string    `json:"prev"`
}

// apiAudit lists audit records: ?after=SEQ&limit=N (default: the newest 200).
func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, _ principal) {
	q := r.URL.Query()
	limit := 200
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be 1..1000")
			return
		}
		limit = n
	}
	head, hash := s.pol.Head()
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "after must be a sequence number")
			return
		}
		after = n
	} else if head > uint64(limit) {
		after = head - uint64(limit)
	}
	recs, err := s.pol.AuditAfter(r.Context(), after, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := s.userNames(r.Context())
	out := make([]recordView, 0, len(recs))
	for _, rec := range recs {
		out = append(out, recordView{Seq: rec.Seq, Time: time.Unix(0, rec.Time).UTC(), Actor: rec.Actor, ActorName: names[rec.Actor],
			Action: rec.Action, TargetKind: rec.TargetKind, Target: rec.Target, Grant: rec.Grant, Result: rec.Result,
			Detail: rec.Detail, Prev: hex.EncodeToString(rec.Prev[:8])})
	}
	writeJSON(w, http.StatusOK, map[string]any{"head": head, "head_hash": hex.EncodeToString(hash[:]), "records": out})
}

func (s *Server) apiAuditVerify(w http.ResponseWriter, r *http.Request, _ principal) {
	rep, err := s.pol.VerifyAudit(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": rep.OK(), "records": rep.Records, "checkpoints": rep.Checkpoints,
		"head_seq": rep.HeadSeq, "head_hash": hex.EncodeToString(rep.HeadHash[:]), "first_bad": rep.FirstBad,
		"reason": rep.Reason, "text": rep.String()})
}

// --- exports (R17) ---

type exportInput struct {
	Grant  string    `json:"grant"`
	Camera string    `json:"camera"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
}

// apiStartExport starts an export under an export grant: UseGrant checks
// and audits the use before anything is read.
func (s *Server) apiStartExport(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Exports != nil, "export") {
		return
	}
	var in exportInput
	if !decode(w, r, &in) {
		return
	}
	if !validID(in.Grant) || !validID(in.Camera) || !in.From.Before(in.To) {
		writeError(w, http.StatusBadRequest, "grant, camera and a range from < to are required")
		return
	}
	note := noteOf(r)
	note.grant, note.target = in.Grant, in.Camera
	if err := s.pol.UseGrant(r.Context(), in.Grant, who.ID, grants.Export, in.Camera, in.From, in.To); err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := s.deps.Exports.Start(r.Context(), ExportRequest{Grant: in.Grant, Camera: in.Camera, From: in.From, To: in.To, By: who.ID})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	note.detail = "export " + st.ID
	writeJSON(w, http.StatusAccepted, st)
}

// apiExports lists the caller's exports (all of them for nobody: exports
// are personal to the grant holder).
func (s *Server) apiExports(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Exports != nil, "export") {
		return
	}
	all, err := s.deps.Exports.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []ExportStatus{}
	for _, x := range all {
		if x.By == who.ID {
			out = append(out, x)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) ownExport(w http.ResponseWriter, r *http.Request, who principal) (ExportStatus, bool) {
	xid := r.PathValue("xid")
	if !validID(xid) {
		writeError(w, http.StatusBadRequest, "bad export id")
		return ExportStatus{}, false
	}
	if need503(w, s.deps.Exports != nil, "export") {
		return ExportStatus{}, false
	}
	st, err := s.deps.Exports.Status(r.Context(), xid)
	if err != nil || st.By != who.ID {
		writeError(w, http.StatusNotFound, "unknown export")
		return ExportStatus{}, false
	}
	return st, true
}

func (s *Server) apiExport(w http.ResponseWriter, r *http.Request, who principal) {
	if st, ok := s.ownExport(w, r, who); ok {
		writeJSON(w, http.StatusOK, st)
	}
}

// apiExportFile downloads the MP4 or the signed manifest of a finished
// export, under the export grant it was made with: UseGrant checks the
// grant (state, validity, holder, camera, range) before a byte is sent.
// Only the fixed parts "mp4" and "manifest" exist: no path from the
// request reaches the file system.
func (s *Server) apiExportFile(w http.ResponseWriter, r *http.Request, who principal) {
	st, ok := s.ownExport(w, r, who)
	if !ok {
		return
	}
	part := r.PathValue("part")
	var ctype, name string
	switch part {
	case "mp4":
		ctype, name = "video/mp4", st.ID+".mp4"
	case "manifest":
		ctype, name = "application/json", st.ID+".manifest.json"
	default:
		writeError(w, http.StatusNotFound, "unknown part")
		return
	}
	note := noteOf(r)
	note.grant, note.detail = st.Grant, "download "+part
	// The grant is checked (and its use audited) on every download, not
	// only when the export was started: a revoked or expired grant stops
	// the file from leaving the device (issue 12, R12, R17). UseGrant
	// writes the one denied record citing the grant, so the route's own
	// record is skipped for that refusal.
	if err := s.pol.UseGrant(r.Context(), st.Grant, who.ID, grants.Export, st.Camera, st.From, st.To); err != nil {
		note.skip = true
		s.fail(w, r, err)
		return
	}
	if st.State != "done" {
		// An expired or failed export says why (its file is gone).
		status, msg := http.StatusConflict, "export not finished"
		if st.State != "running" {
			msg = "export " + st.State
			if st.Error != "" {
				msg += ": " + st.Error
			}
			if st.State == "expired" {
				status = http.StatusGone
			}
		}
		writeError(w, status, clip(msg, 500))
		return
	}
	rc, size, err := s.deps.Exports.Open(r.Context(), st.ID, part)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if size > 0 {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(30 * time.Minute))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
}

// --- decommission (R25): two people ---

type decomRequest struct {
	Purpose       string  `json:"purpose"`
	ValidityHours float64 `json:"validity_hours"`
}

// apiDecomRequest files the admin's decommission request; an approver
// approves it under Requests (four eyes).
func (s *Server) apiDecomRequest(w http.ResponseWriter, r *http.Request, who principal) {
	var in decomRequest
	if !decode(w, r, &in) {
		return
	}
	if in.ValidityHours <= 0 {
		in.ValidityHours = 4
	}
	g, err := s.pol.Request(r.Context(), who.ID, grants.Request{Action: grants.Decommission, Purpose: in.Purpose,
		Validity: time.Duration(in.ValidityHours * float64(time.Hour))})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	noteOf(r).grant = g.ID
	writeJSON(w, http.StatusCreated, s.viewGrant(&g, s.userNames(r.Context())))
}

type decomConfirm struct {
	Grant   string `json:"grant"`
	Confirm string `json:"confirm"` // the device id, typed
}

// apiDecommission runs the wipe under an approved decommission grant after
// the admin typed the device id.
func (s *Server) apiDecommission(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Decommission != nil, "decommission") {
		return
	}
	var in decomConfirm
	if !decode(w, r, &in) {
		return
	}
	noteOf(r).grant = clip(in.Grant, 64)
	if strings.TrimSpace(in.Confirm) != s.cfg.DeviceID {
		writeError(w, http.StatusBadRequest, "type the device id to confirm")
		return
	}
	if in.Grant == "" {
		// The other way in (R25): the wipe button held 10 s on the device
		// itself, plus an admin's confirmation here.
		if s.deps.WipeArmed == nil || !s.deps.WipeArmed() {
			writeError(w, http.StatusForbidden, "a decommission needs an approved grant, or the wipe button held 10 s on the device")
			return
		}
		if who.Role != perm.Admin {
			writeError(w, http.StatusForbidden, "only an admin confirms a wipe armed by the button")
			return
		}
	} else if err := s.pol.UseGrant(r.Context(), in.Grant, who.ID, grants.Decommission, "", time.Time{}, time.Time{}); err != nil {
		s.fail(w, r, err)
		return
	}
	cert, err := s.deps.Decommission.Decommission(r.Context(), in.Grant, who.ID)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			s.fail(w, r, err)
			return
		}
		s.internalError(w, r, err)
		return
	}
	_, _ = s.pol.Audit(r.Context(), audit.Event{Actor: who.ID, Action: "device.decommission", TargetKind: audit.KindDevice,
		Grant: in.Grant, Result: audit.ResultOK, Detail: "wipe certificate issued"})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="wipe-certificate.json"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(cert)
}

// apiBackup downloads the signed device-state backup (R26). The route is
// admin-only by the permission table and audited.
func (s *Server) apiBackup(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Backup != nil, "backup") {
		return
	}
	doc, err := s.deps.Backup(r.Context(), who.User)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="edgerec-backup-`+s.cfg.DeviceID+`.json"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}
