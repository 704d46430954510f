package web

import (
	"image/jpeg"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Security headers on every answer; no inline script or style in any page
// (the CSP forbids them); the R18 snapshot is a JPEG with the viewer burned in.
func TestSecurityHeadersPagesAndSnapshot(t *testing.T) {
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	resp := e.do("GET", "/", "", "", nil)
	readAll(t, resp)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]+</script>|\son[a-z]+\s*=|style\s*=|javascript:`)
	for who, pages := range map[string][]string{
		"admin":     {"/", "/users", "/review", "/decommission", "/account", "/requests"},
		"installer": {"/", "/cameras", "/cameras/cam1/masks", "/live"},
		"operator":  {"/", "/live", "/recordings", "/requests", "/exports"},
		"auditor":   {"/audit"},
	} {
		for _, p := range pages {
			resp := e.do("GET", p, "", "", tm.cookies[who])
			b := string(readAll(t, resp))
			if resp.StatusCode != 200 {
				t.Errorf("%s %s: %d", who, p, resp.StatusCode)
			}
			if m := inline.FindString(b); m != "" {
				t.Errorf("%s %s: inline script or style: %q", who, p, m)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := e.do("GET", "/api/v1/cameras/cam1/snapshot", "", "", tm.cookies["operator"])
		if resp.StatusCode == 200 {
			if _, err := jpeg.Decode(resp.Body); err != nil {
				t.Errorf("snapshot: %v", err)
			}
			resp.Body.Close()
			break
		}
		readAll(t, resp)
		if time.Now().After(deadline) {
			t.Fatalf("snapshot: %d", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Static assets: fixed types, revalidated.
	resp = e.do("GET", "/static/pages.js", "", "", nil)
	readAll(t, resp)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || resp.Header.Get("ETag") == "" {
		t.Errorf("asset: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	_ = http.StatusOK
}
