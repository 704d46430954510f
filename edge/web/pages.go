package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/edgerec/edgerec/edge/health"
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

func parsePages() (*template.Template, error) {
	t, err := template.New("pages").Funcs(template.FuncMap{
		"bytes":    formatBytes,
		"duration": formatDuration,
		"time":     formatTime,
		"percent":  percent,
		"f1":       func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"f0":       func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) },
		"below":    func(a, b time.Duration) bool { return b > 0 && a < b },
		"pathseg":  url.PathEscape,
	}).ParseFS(ui, "ui/templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse templates: %w", err)
	}
	return t, nil
}

// loginView is the data of the login page.
type loginView struct {
	Device string
	Error  string
	User   string
}

// dashboardView is the data of the dashboard.
type dashboardView struct {
	Device      string
	Who         principal
	Health      health.Snapshot
	ShowCameras bool
	ShowLive    bool
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

// pageIndex is the login page without a session, the dashboard with one.
func (s *Server) pageIndex(w http.ResponseWriter, r *http.Request, who principal) {
	if who.User == "" {
		s.render(w, r, http.StatusOK, "login.html", loginView{Device: s.cfg.DeviceID})
		return
	}
	if !s.accts.Allowed(who, permHealthRead) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	s.render(w, r, http.StatusOK, "dashboard.html", dashboardView{
		Device:      s.cfg.DeviceID,
		Who:         who,
		Health:      s.healthFor(who),
		ShowCameras: s.accts.Allowed(who, permCamerasRead),
		ShowLive:    s.accts.Allowed(who, permCameraLive),
	})
}

// pageLogin handles the login form: 303 to / on success, the login page with
// a message otherwise.
func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request, _ principal) {
	view := loginView{Device: s.cfg.DeviceID}
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
		http.Redirect(w, r, "/", http.StatusSeeOther)
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
