package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy/perm"
)

// ui holds the page templates and static assets. An embed.FS has to be a
// package-level variable; it is read-only.
//
//go:embed ui/templates/*.html ui/static/*
var ui embed.FS

// asset is one embedded static file, served with an ETag so that browsers
// revalidate cheaply after a firmware update.
type asset struct {
	data  []byte
	ctype string
	etag  string
}

func loadAssets() (map[string]asset, error) {
	entries, err := fs.ReadDir(ui, "ui/static")
	if err != nil {
		return nil, fmt.Errorf("web: read assets: %w", err)
	}
	out := make(map[string]asset, len(entries))
	for _, e := range entries {
		data, err := fs.ReadFile(ui, path.Join("ui/static", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("web: read asset %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(data)
		// Fixed types, not the system's mime.types: with nosniff a wrong
		// type would break the page.
		ctype, ok := map[string]string{
			".css": "text/css; charset=utf-8",
			".js":  "text/javascript; charset=utf-8",
			".svg": "image/svg+xml",
			".png": "image/png",
		}[path.Ext(e.Name())]
		if !ok {
			ctype = "application/octet-stream"
		}
		out[e.Name()] = asset{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out, nil
}

// pageTemplates are the page files; each is parsed with layout.html into
// its own set, so each may define its own "main" block.
var pageTemplates = []string{"login.html", "setup.html", "dashboard.html", "app.html", "error.html"}

type pageSet map[string]*template.Template

func (p pageSet) ExecuteTemplate(w io.Writer, name string, data any) error {
	t, ok := p[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	return t.ExecuteTemplate(w, name, data)
}

func parsePages() (pageSet, error) {
	base, err := template.New("pages").Funcs(template.FuncMap{
		"bytes":    formatBytes,
		"duration": formatDuration,
		"time":     formatTime,
		"percent":  percent,
		"f1":       func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"f0":       func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) },
		"below":    func(a, b time.Duration) bool { return b > 0 && a < b },
		"pathseg":  url.PathEscape,
	}).ParseFS(ui, "ui/templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	out := pageSet{}
	for _, name := range pageTemplates {
		c, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("web: clone layout: %w", err)
		}
		if out[name], err = c.ParseFS(ui, "ui/templates/"+name); err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
	}
	return out, nil
}

// navItem is one link of the page's navigation.
type navItem struct {
	Href, Label string
	Active      bool
}

// nav lists the pages who may open, from the same route table and
// permission table that authorize uses.
func (s *Server) nav(ctx context.Context, who principal) []navItem {
	if who.ID == "" {
		return nil
	}
	items := []struct {
		href, label string
		need        permission
		alt         permission // either passes (as route.alt)
	}{
		{"/", "Dashboard", perm.HealthRead, ""},
		{"/cameras", "Cameras", perm.CamerasRead, ""},
		{"/live", "Live", perm.CameraLive, ""},
		{"/recordings", "Recordings", perm.CamerasRead, ""},
		{"/requests", "Requests", permSession, ""},
		{"/exports", "Exports", perm.Export, ""},
		{"/users", "Users", perm.UsersManage, ""},
		{"/review", "Review", perm.ReportsRead, ""},
		{"/maintenance", "Maintenance", perm.Maintenance, ""},
		{"/update", "Update", perm.DeviceUpdate, ""},
		{"/settings", "Settings", perm.ConfigChange, perm.NetworkManage},
		{"/audit", "Audit", perm.AuditRead, ""},
		{"/decommission", "Decommission", perm.Decommission, ""},
		{"/account", "Account", perm.OwnAccountWrite, ""},
	}
	var out []navItem
	for _, it := range items {
		ok := it.need == permSession
		switch s.matrix.Cell(who.Role, it.need) {
		case perm.Allow:
			ok = s.pol.Check(ctx, who.ID, it.need, "") == nil
		case perm.Grant:
			ok = true
		}
		if !ok && it.alt != "" && s.matrix.Allows(who.Role, it.alt) {
			ok = s.pol.Check(ctx, who.ID, it.alt, "") == nil
		}
		if ok {
			out = append(out, navItem{Href: it.href, Label: it.label})
		}
	}
	return out
}

// loginView is the data of the login and setup pages.
type loginView struct {
	Device      string
	Fingerprint string
	Error       string
	User        string
}

// dashboardView is the data of the dashboard.
type dashboardView struct {
	Device      string
	Who         principal
	Nav         []navItem
	Page        string
	Health      health.Snapshot
	ShowCameras bool
	ShowLive    bool
}

// appView is the data of the script-driven pages.
type appView struct {
	Device string
	Who    principal
	Nav    []navItem
	Page   string
	Title  string
	Camera string
	// TZ is the site's IANA zone name (device.timezone; "UTC" if unset):
	// the page's script shows every time in it with the offset (issue 18).
	TZ string
}

// errorView is the data of an error page.
type errorView struct {
	Device      string
	Who         principal
	Nav         []navItem
	Page        string
	Title, Text string
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// pageIndex is the setup page before the first admin exists, the login page
// without a session, the dashboard with one.
func (s *Server) pageIndex(w http.ResponseWriter, r *http.Request, who principal) {
	lv := loginView{Device: s.cfg.DeviceID, Fingerprint: s.cert.fingerprint}
	if who.ID == "" {
		if s.setup.pending() {
			s.render(w, r, http.StatusOK, "setup.html", lv)
			return
		}
		s.render(w, r, http.StatusOK, "login.html", lv)
		return
	}
	if who.MustChange {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	nav := s.nav(r.Context(), who)
	if s.pol.Check(r.Context(), who.ID, perm.HealthRead, "") != nil {
		s.render(w, r, http.StatusForbidden, "error.html", errorView{Device: s.cfg.DeviceID, Who: who, Nav: nav,
			Title: "No role", Text: "Your account holds no role yet. An approver has to approve your role assignment."})
		return
	}
	s.render(w, r, http.StatusOK, "dashboard.html", dashboardView{
		Device:      s.cfg.DeviceID,
		Who:         who,
		Nav:         nav,
		Page:        "dashboard",
		Health:      s.healthFor(r.Context(), who),
		ShowCameras: s.pol.Check(r.Context(), who.ID, perm.CamerasRead, "") == nil,
		ShowLive:    s.pol.Check(r.Context(), who.ID, perm.CameraLive, "") == nil,
	})
}

// pageApp renders a script-driven page.
func (s *Server) pageApp(name, title string) func(http.ResponseWriter, *http.Request, principal) {
	return func(w http.ResponseWriter, r *http.Request, who principal) {
		cam := r.PathValue("id")
		if cam != "" && !validID(cam) {
			http.NotFound(w, r)
			return
		}
		if cam != "" {
			if _, err := s.deps.Cameras.Get(r.Context(), cam); errors.Is(err, ErrUnknownCamera) {
				s.render(w, r, http.StatusNotFound, "error.html", errorView{Device: s.cfg.DeviceID, Who: who,
					Title: "No such camera", Text: "This camera does not exist.", Nav: s.nav(r.Context(), who)})
				return
			}
		}
		s.render(w, r, http.StatusOK, "app.html", appView{Device: s.cfg.DeviceID, Who: who, Nav: s.nav(r.Context(), who),
			Page: name, Title: title, Camera: cam, TZ: s.zoneName()})
	}
}

// pageLogin handles the login form: 303 to / on success, the login page with
// a message otherwise.
func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request, _ principal) {
	view := loginView{Device: s.cfg.DeviceID, Fingerprint: s.cert.fingerprint}
	req, err := readLogin(w, r)
	if err != nil {
		status, _ := loginParseStatus(err)
		view.Error = "Enter a user name and password."
		s.render(w, r, status, "login.html", view)
		return
	}
	view.User = req.User
	res := s.login(w, r, req)
	if res.status == 0 {
		to := "/"
		if res.who.MustChange {
			to = "/account"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	view.Error = "Invalid user name or password."
	switch res.status {
	case http.StatusTooManyRequests:
		setRetryAfter(w, res.retryAfter)
		view.Error = fmt.Sprintf("Too many failed attempts. Try again in %s.", formatDuration(res.retryAfter.Round(time.Second)))
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		view.Error = "The device could not check the login. Try again."
	}
	s.render(w, r, res.status, "login.html", view)
}

// pageSetup handles the first-run form (code, admin name, password).
func (s *Server) pageSetup(w http.ResponseWriter, r *http.Request, _ principal) {
	view := loginView{Device: s.cfg.DeviceID, Fingerprint: s.cert.fingerprint}
	body, err := readBody(w, r, maxLoginBody)
	var vals url.Values
	if err == nil {
		vals, err = url.ParseQuery(string(body))
	}
	if err != nil {
		view.Error = "Malformed form."
		s.render(w, r, http.StatusBadRequest, "setup.html", view)
		return
	}
	view.User = vals.Get("user")
	res := s.setupRun(w, r, setupRequest{Code: vals.Get("code"), User: vals.Get("user"), Password: vals.Get("password")})
	switch res.status {
	case 0:
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	case http.StatusGone:
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	case http.StatusTooManyRequests:
		setRetryAfter(w, res.retryAfter)
	}
	view.Error = res.msg
	s.render(w, r, res.status, "setup.html", view)
}

func (s *Server) pageLogout(w http.ResponseWriter, r *http.Request, who principal) {
	s.logout(w, r, who)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) pageStatic(w http.ResponseWriter, r *http.Request, _ principal) {
	a, ok := s.assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}

// formatBytes is a size in IEC units: "1.5 GiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// formatDuration is a coarse duration: "12d 4h", "3h 20m", "45s".
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	days := int64(d / (24 * time.Hour))
	hours := int64(d % (24 * time.Hour) / time.Hour)
	mins := int64(d % time.Hour / time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case mins > 0:
		return fmt.Sprintf("%dm %ds", mins, int64(d%time.Minute/time.Second))
	default:
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
}

// formatTime is RFC 3339 in UTC, or a dash for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}

func percent(part, whole int64) int {
	if whole <= 0 {
		return 0
	}
	return int(min(100, max(0, part*100/whole)))
}

// zoneName is the IANA name of the site's zone for the page ("UTC" if
// unset).
func (s *Server) zoneName() string {
	if s.cfg.Location == nil {
		return "UTC"
	}
	return s.cfg.Location.String()
}
