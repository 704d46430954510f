package web

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/edgerec/edgerec/edge/health"
)

// Issue 13, R32: the health API and the dashboard say where the root key
// lives; with the file provider the page carries a banner with the
// sentence "keys on disk: not protected against theft of the disk", with a
// hardware provider it does not, and the device card names the provider
// in every case.
func TestKeyProviderOnPageAndHealth(t *testing.T) {
	const warn = "keys on disk: not protected against theft of the disk"
	e := newEnv(t, envOptions{noCams: true})
	e.health.SetKeyProvider(health.KeyProvider{Name: "file", Note: "file (" + warn + ")", Warning: warn})
	admin := e.setupAdmin()

	var h struct {
		KeyProvider string                                  `json:"key_provider"`
		Warning     string                                  `json:"key_provider_warning"`
		Alerts      []struct{ Code, Severity, Text string } `json:"alerts"`
	}
	e.must(200, "GET", "/api/v1/health", nil, admin, &h)
	if h.KeyProvider != "file" || h.Warning != warn {
		t.Fatalf("health: key_provider %q warning %q", h.KeyProvider, h.Warning)
	}
	found := false
	for _, a := range h.Alerts {
		if a.Code == health.AlertKeysOnDisk && a.Severity == "warning" && a.Text == warn {
			found = true
		}
	}
	if !found {
		t.Fatalf("no standing keys.on_disk warning: %+v", h.Alerts)
	}
	page := func() string {
		resp := e.do("GET", "/", "", "", admin)
		body := string(readAll(t, resp))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="dashboard"`) {
			t.Fatalf("dashboard: %d", resp.StatusCode)
		}
		return html.UnescapeString(body)
	}
	body := page()
	i := strings.Index(body, `id="key-provider-banner"`)
	if i < 0 || !strings.Contains(body[i:], warn) {
		t.Fatalf("no file-provider banner with the sentence on the dashboard")
	}
	if !strings.Contains(body, `data-field="key_provider" data-key-provider="file"`) {
		t.Fatal("the device card does not name the provider")
	}

	// A TPM: no banner, no warning, the provider still shown.
	e.health.SetKeyProvider(health.KeyProvider{Name: "tpm2", Note: "tpm2 (sealed in this board's TPM 2.0)"})
	h.Alerts, h.Warning = nil, ""
	e.must(200, "GET", "/api/v1/health", nil, admin, &h)
	if h.KeyProvider != "tpm2" || h.Warning != "" {
		t.Fatalf("tpm2 health: %+v", h)
	}
	for _, a := range h.Alerts {
		if a.Code == health.AlertKeysOnDisk {
			t.Fatalf("tpm2 keeps the file warning: %+v", h.Alerts)
		}
	}
	body = page()
	if strings.Contains(body, "key-provider-banner") || strings.Contains(body, warn) {
		t.Fatal("tpm2 dashboard shows the file-provider warning")
	}
	if !strings.Contains(body, `data-key-provider="tpm2"`) || !strings.Contains(body, "sealed in this board's TPM 2.0") {
		t.Fatal("the device card does not name the tpm2 provider")
	}
	// Anonymous callers learn nothing (health needs a session).
	if resp := e.do("GET", "/api/v1/health", "", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous health: %d", resp.StatusCode)
	}
}
