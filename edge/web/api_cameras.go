package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/rules"
)

// maskView is a mask in the API: normalized [x, y] points (R2).
type maskView struct {
	Name    string       `json:"name"`
	Style   string       `json:"style"`
	Polygon [][2]float64 `json:"polygon"`
}

// cameraView is a camera in the API. The source URL is shown redacted
// (credentials removed).
type cameraView struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Source        string     `json:"source"`
	SubSource     string     `json:"sub_source,omitempty"`
	Zone          string     `json:"zone"`
	SignageBy     string     `json:"signage_by"`
	SignageDate   string     `json:"signage_date"`
	Commissioned  bool       `json:"commissioned"`
	RetentionDays float64    `json:"retention_days"`
	BitrateKbps   int        `json:"bitrate_kbps"`
	KeyframeMs    int64      `json:"keyframe_ms"`
	Masks         []maskView `json:"masks"`
	// Schedule: the weekly recording windows in site time (issue 18);
	// empty = always.
	Schedule []scheduleView `json:"schedule"`
}

// scheduleView is one recording window: days (mon … sun) and "HH:MM"
// from/to in the site's time; a to at or before from ends the next day.
type scheduleView struct {
	Days []string `json:"days"`
	From string   `json:"from"`
	To   string   `json:"to"`
}

func viewCamera(c *config.Camera) cameraView {
	v := cameraView{ID: c.ID, Name: c.Name, Source: config.RedactURL(string(c.Source)), SubSource: config.RedactURL(string(c.SubSource)), Zone: string(c.Zone),
		SignageBy: c.Signage.AttestedBy, Commissioned: c.Signage.Complete(),
		RetentionDays: c.Retention.D().Hours() / 24, BitrateKbps: c.BitrateKbps, KeyframeMs: c.KeyframeInterval.D().Milliseconds(),
		Masks: []maskView{}, Schedule: []scheduleView{}}
	for _, w := range c.Schedule {
		v.Schedule = append(v.Schedule, scheduleView{Days: slices.Clone(w.Days), From: w.From, To: w.To})
	}
	if !c.Signage.Date.IsZero() {
		v.SignageDate = c.Signage.Date.Format(time.DateOnly)
	}
	for _, m := range c.Masks {
		mv := maskView{Name: m.Name, Style: string(m.Style), Polygon: [][2]float64{}}
		if mv.Style == "" {
			mv.Style = string(mask.StyleFill)
		}
		for _, p := range m.Polygon {
			if len(p) == 2 {
				mv.Polygon = append(mv.Polygon, [2]float64{p[0], p[1]})
			}
		}
		v.Masks = append(v.Masks, mv)
	}
	return v
}

func (s *Server) apiCameras(w http.ResponseWriter, r *http.Request, who principal) {
	cams, err := s.deps.Cameras.List(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []cameraView{}
	for i := range cams {
		if s.pol.Check(r.Context(), who.ID, perm.CamerasRead, cams[i].ID) == nil {
			out = append(out, viewCamera(&cams[i]))
		}
	}
	slices.SortFunc(out, func(a, b cameraView) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiCamera(w http.ResponseWriter, r *http.Request, _ principal) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "bad camera id")
		return
	}
	c, err := s.deps.Cameras.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewCamera(&c))
}

// cameraInput is the body of POST /api/v1/cameras and PUT …/{id}.
type cameraInput struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Source string `json:"source"` // empty on update keeps the current source
	// SubSource is the camera's viewing stream (issue 18): empty on update
	// keeps it, "none" removes it; it may not carry a password.
	SubSource     string  `json:"sub_source"`
	Zone          string  `json:"zone"`
	SignageBy     string  `json:"signage_by"`
	SignageDate   string  `json:"signage_date"` // YYYY-MM-DD
	RetentionDays float64 `json:"retention_days"`
	BitrateKbps   int     `json:"bitrate_kbps"`
	KeyframeMs    int64   `json:"keyframe_ms"`
	// Schedule replaces the recording schedule (issue 18): absent keeps
	// it, [] records always. A narrower schedule stops recording at some
	// hours: it waits for an approver (schedule_reduce, R27).
	Schedule *[]scheduleView `json:"schedule"`
}

// checkName refuses names that could mislead a reader: control and format
// characters (bidi overrides, zero-width joiners), unassigned or private-use
// code points, invalid UTF-8, and names longer than max bytes.
func checkName(field, s string, max int, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%w: %s is empty", ErrInvalid, field)
		}
		return nil
	}
	if len(s) > max {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, field, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, field)
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("%w: %s has leading or trailing spaces", ErrInvalid, field)
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r), r == utf8.RuneError,
			!unicode.IsPrint(r) && r != ' ':
			return fmt.Errorf("%w: %s contains an invisible or control character (%U)", ErrInvalid, field, r)
		}
	}
	return nil
}

// safeCameraID matches the config's id rule: 1..64 of a-z, 0-9, - and _.
func safeCameraID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkSource accepts the schemes the recorder opens.
func checkSource(src string) error {
	if len(src) > 1024 || !utf8.ValidString(src) || strings.ContainsFunc(src, unicode.IsControl) {
		return fmt.Errorf("%w: source URL is malformed", ErrInvalid)
	}
	u, err := url.Parse(src)
	if err != nil {
		return fmt.Errorf("%w: source URL is malformed", ErrInvalid)
	}
	switch u.Scheme {
	case "rtsp", "rtsps", "v4l2", "test":
	default:
		return fmt.Errorf("%w: source must be rtsp://, rtsps://, v4l2:// or test:// (got %q)", ErrInvalid, clip(u.Scheme, 16))
	}
	return nil
}

func (in *cameraInput) toConfig(old *config.Camera) (config.Camera, error) {
	var c config.Camera
	if old != nil {
		c = *old
	}
	if old == nil {
		if !safeCameraID(in.ID) {
			return c, fmt.Errorf("%w: camera id: use 1 to 64 of a-z, 0-9, - and _", ErrInvalid)
		}
		c.ID = in.ID
	}
	if err := checkName("name", in.Name, 100, false); err != nil {
		return c, err
	}
	c.Name = in.Name
	if in.Source != "" || old == nil {
		if err := checkSource(in.Source); err != nil {
			return c, err
		}
		c.Source = config.URL(in.Source)
	}
	switch {
	case in.SubSource == "none":
		c.SubSource = ""
	case in.SubSource != "":
		if err := checkSource(in.SubSource); err != nil {
			return c, fmt.Errorf("sub stream: %w", err)
		}
		if _, _, err := config.SplitPassword(config.URL(in.SubSource)); err == nil {
			return c, fmt.Errorf("%w: the sub stream URL carries a password: the camera's password applies to it (leave only the user name)", ErrInvalid)
		}
		c.SubSource = config.URL(in.SubSource)
	}
	z := rules.ZoneType(in.Zone)
	if err := rules.CheckZone(z, rules.Site{}); err != nil {
		return c, err // R1: prohibited (422) or unknown zone, with the reason
	}
	c.Zone = z
	if err := checkName("signage attested by", in.SignageBy, 100, false); err != nil {
		return c, err
	}
	c.Signage.AttestedBy = in.SignageBy
	c.Signage.Date = config.Date{}
	if in.SignageDate != "" {
		d, err := time.Parse(time.DateOnly, in.SignageDate)
		if err != nil {
			return c, fmt.Errorf("%w: signage date must be YYYY-MM-DD", ErrInvalid)
		}
		c.Signage.Date = config.Date{Time: d}
	}
	if in.RetentionDays < 0 || in.RetentionDays > 400 {
		return c, fmt.Errorf("%w: retention_days must be 0..400", ErrInvalid)
	}
	c.Retention = config.Duration(time.Duration(in.RetentionDays * 24 * float64(time.Hour)))
	if in.BitrateKbps != 0 {
		if in.BitrateKbps < 64 || in.BitrateKbps > 50000 {
			return c, fmt.Errorf("%w: bitrate_kbps must be 64..50000", ErrInvalid)
		}
		c.BitrateKbps = in.BitrateKbps
	}
	if in.KeyframeMs != 0 {
		if in.KeyframeMs < 200 || in.KeyframeMs > 10000 {
			return c, fmt.Errorf("%w: keyframe_ms must be 200..10000", ErrInvalid)
		}
		c.KeyframeInterval = config.Duration(time.Duration(in.KeyframeMs) * time.Millisecond)
	}
	if in.Schedule != nil {
		if len(*in.Schedule) > 28 {
			return c, fmt.Errorf("%w: schedule: at most 28 windows", ErrInvalid)
		}
		c.Schedule = nil
		for _, w := range *in.Schedule {
			c.Schedule = append(c.Schedule, config.ScheduleWindow{Days: slices.Clone(w.Days), From: w.From, To: w.To})
		}
		if _, err := config.ScheduleOf(c, time.UTC); err != nil {
			return c, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return c, nil
}

func (s *Server) apiAddCamera(w http.ResponseWriter, r *http.Request, _ principal) {
	var in cameraInput
	if !decode(w, r, &in) {
		return
	}
	c, err := in.toConfig(nil)
	noteOf(r).target = clip(in.ID, 64)
	if err == nil {
		err = s.deps.Cameras.Add(r.Context(), c)
	}
	if err != nil {
		noteOf(r).detail = clip(err.Error(), 300)
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewCamera(&c))
}

func (s *Server) apiUpdateCamera(w http.ResponseWriter, r *http.Request, who principal) {
	id := r.PathValue("id")
	var in cameraInput
	if !decode(w, r, &in) {
		return
	}
	if in.ID != "" && in.ID != id {
		writeError(w, http.StatusBadRequest, "the camera id cannot change")
		return
	}
	old, err := s.deps.Cameras.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := in.toConfig(&old)
	if err == nil {
		err = s.deps.Cameras.Update(r.Context(), c)
	}
	if s.requestCoverage(w, r, who, err) {
		return // R27: a zone or source change waits for approval
	}
	if err != nil {
		noteOf(r).detail = clip(err.Error(), 300)
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewCamera(&c))
}

func (s *Server) apiRemoveCamera(w http.ResponseWriter, r *http.Request, who principal) {
	err := s.deps.Cameras.Remove(r.Context(), r.PathValue("id"))
	if s.requestCoverage(w, r, who, err) {
		return // R27: removing a camera waits for approval
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// masksInput is the body of PUT /api/v1/cameras/{id}/masks.
type masksInput struct {
	Masks []maskView `json:"masks"`
}

// parseMasks validates the editor's masks (R2), the LAN page's one
// validation of them: names as text (checkName), then the geometry, style
// and unique names (mask.NewSet); the Set goes on to the camera manager and
// the pipeline, which do not check again. Pure, fuzzed.
func parseMasks(in masksInput) (mask.Set, error) {
	if len(in.Masks) > mask.MaxMasks {
		return mask.Set{}, fmt.Errorf("%w: more than %d masks", ErrInvalid, mask.MaxMasks)
	}
	out := make([]mask.Mask, 0, len(in.Masks))
	names := map[string]bool{}
	for i, mv := range in.Masks {
		if err := checkName(fmt.Sprintf("mask %d name", i+1), mv.Name, 64, true); err != nil {
			return mask.Set{}, err
		}
		if names[mv.Name] {
			return mask.Set{}, fmt.Errorf("%w: mask name %q used twice", ErrInvalid, mv.Name)
		}
		names[mv.Name] = true
		m := mask.Mask{Name: mv.Name, Style: mask.Style(mv.Style)}
		if len(mv.Polygon) > mask.MaxPoints {
			return mask.Set{}, fmt.Errorf("%w: mask %q has more than %d points", ErrInvalid, mv.Name, mask.MaxPoints)
		}
		for _, p := range mv.Polygon {
			m.Polygon = append(m.Polygon, mask.Point{X: p[0], Y: p[1]})
		}
		out = append(out, m)
	}
	return mask.NewSet(out)
}

func (s *Server) apiSetMasks(w http.ResponseWriter, r *http.Request, who principal) {
	var in masksInput
	if !decode(w, r, &in) {
		return
	}
	ms, err := parseMasks(in)
	if err == nil {
		err = s.deps.Cameras.SetMasks(r.Context(), r.PathValue("id"), ms)
	}
	if s.requestCoverage(w, r, who, err) {
		return // R27: deleting, shrinking or weakening a mask waits for approval
	}
	if err != nil {
		noteOf(r).detail = clip(err.Error(), 300)
		s.fail(w, r, err)
		return
	}
	noteOf(r).detail = fmt.Sprintf("%d masks", ms.Len())
	w.WriteHeader(http.StatusNoContent)
}

type probeInput struct {
	URL string `json:"url"`
}

// apiProbe opens a source URL without recording (what an installer checks
// before adding a camera).
func (s *Server) apiProbe(w http.ResponseWriter, r *http.Request, _ principal) {
	var in probeInput
	if !decode(w, r, &in) {
		return
	}
	if err := checkSource(in.URL); err != nil {
		s.fail(w, r, err)
		return
	}
	noteOf(r).detail = "probe " + clip(config.RedactURL(in.URL), 300)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	info, err := s.deps.Cameras.Probe(ctx, in.URL)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		msg := strings.ReplaceAll(err.Error(), in.URL, config.RedactURL(in.URL))
		writeError(w, http.StatusUnprocessableEntity, clip("could not open the source: "+msg, 400))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"codec": info.Codec, "width": info.Width, "height": info.Height, "fps": info.FPS})
}

func (s *Server) apiDevices(w http.ResponseWriter, r *http.Request, _ principal) {
	ds, err := s.deps.Cameras.Devices(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ds == nil {
		ds = []Device{}
	}
	writeJSON(w, http.StatusOK, ds)
}

// zones lists the zone types for the camera form (prohibited ones marked).
func zoneList() []map[string]any {
	var out []map[string]any
	for _, z := range rules.KnownZones() {
		err := rules.CheckZone(z, rules.Site{})
		e := ""
		if err != nil {
			e = err.Error()
		}
		out = append(out, map[string]any{"zone": z, "refused": e})
	}
	return out
}

func (s *Server) apiZones(w http.ResponseWriter, _ *http.Request, _ principal) {
	writeJSON(w, http.StatusOK, zoneList())
}
