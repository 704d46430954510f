package web

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/policy/perm"
)

// Settings is the owner of the config file (the camera manager,
// *cameras.Manager): the Settings page (issue 18) reads the device's
// configuration and changes what is not a camera through it, so that the
// file has one writer.
type Settings interface {
	// Config is the current config; the caller must not change it.
	Config() *config.Config
	// ChangeSettings applies change to a copy of the current config,
	// validates the copy as a whole (config.Validate: an error is a
	// *config.Error naming the field), writes the config file atomically
	// and makes the copy current. If change returns an error, the copy does
	// not validate or it touches the cameras, nothing is written. change
	// runs under the owner's lock and may keep files the new config refers
	// to (the uplink's TLS material) once it has validated the copy.
	ChangeSettings(ctx context.Context, change func(*config.Config) error) error
	// SetRetention sets one camera's retention (R6): lengthening applies at
	// once; shortening returns a *NeedsApproval (kind retention_reduce,
	// R27) and changes nothing.
	SetRetention(ctx context.Context, camera string, d config.Duration) error
}

// UplinkStore keeps the uplink's TLS material (edge/provision.UplinkFiles):
// the client key sealed in the device's vault (issue 13, R32), the CA and
// the certificate, which are public, beside it.
type UplinkStore interface {
	// UplinkRefs returns what uplink.ca, uplink.cert and uplink.key name
	// once StoreUplink kept material (paths, and a "vault:" reference for
	// the key).
	UplinkRefs() (ca, cert, key string)
	// StoreUplink keeps the non-nil parts, PEM, checked by the caller (the
	// CA parses, the certificate pairs with the key), each replaced
	// atomically.
	StoreUplink(ctx context.Context, ca, cert, key []byte) error
}

// NTPServers is the NTP server list of the gateway's time service
// (/data/edgerec/ntp-servers, one per line; the time service reads it at
// start). An empty list means the pool.
type NTPServers interface {
	NTPServers(ctx context.Context) ([]string, error)
	// SetNTPServers writes the list atomically.
	SetNTPServers(ctx context.Context, servers []string) error
}

// Settings sections and the permission each needs to change (the
// permission table: network.manage for LAN and uplink, config.change for
// the rest of the device's configuration).
var settingsPerm = map[string]perm.Permission{
	"uplink":    perm.NetworkManage,
	"allowlist": perm.NetworkManage,
	"ntp":       perm.ConfigChange,
	"gpio":      perm.ConfigChange,
	"retention": perm.ConfigChange,
}

// sectionState is what every section of GET /api/v1/settings says.
type sectionState struct {
	// MayChange: the caller's role holds the section's permission.
	MayChange bool `json:"may_change"`
	// RestartNeeded: a change made since the daemon started takes effect
	// at the next start.
	RestartNeeded bool `json:"restart_needed"`
	// Available: the device has this part (false: 503 on change).
	Available bool `json:"available"`
}

// certView describes a certificate without its bytes.
type certView struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
	SHA256   string    `json:"sha256"`
	Expired  bool      `json:"expired"`
	Count    int       `json:"count,omitempty"` // certificates in a CA bundle
	Error    string    `json:"error,omitempty"` // the file does not read or parse
}

type uplinkView struct {
	sectionState
	Configured  bool      `json:"configured"`
	Broker      string    `json:"broker,omitempty"` // credentials redacted
	TopicPrefix string    `json:"topic_prefix,omitempty"`
	CA          *certView `json:"ca,omitempty"`
	Cert        *certView `json:"cert,omitempty"`
	// Key says where the client key is: "sealed in the vault", "plain
	// file (not sealed)" or "" (none). Never the key.
	Key string `json:"key,omitempty"`
}

type allowlistView struct {
	sectionState
	Entries     []string `json:"entries"`
	YourAddress string   `json:"your_address"`
}

type ntpView struct {
	sectionState
	Servers []string `json:"servers"`
	Pool    bool     `json:"pool"` // no list: the public pool
}

type gpioView struct {
	sectionState
	StatusLED  string `json:"status_led"`
	Tamper     string `json:"tamper"`
	WipeButton string `json:"wipe_button"`
}

type retentionCamView struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"` // only for holders of cameras.read (R19)
	Retention string `json:"retention"`      // as configured; "" = the floor
	Effective string `json:"effective"`
}

type retentionView struct {
	sectionState
	Floor   string             `json:"floor"`
	Ceiling string             `json:"ceiling"`
	Cameras []retentionCamView `json:"cameras"`
}

// settingsView is GET /api/v1/settings.
type settingsView struct {
	Uplink    uplinkView    `json:"uplink"`
	Allowlist allowlistView `json:"allowlist"`
	NTP       ntpView       `json:"ntp"`
	GPIO      gpioView      `json:"gpio"`
	Retention retentionView `json:"retention"`
}

// settingsResult answers a change.
type settingsResult struct {
	Section string `json:"section"`
	// Applied is "live" when the change is in force now.
	Applied       string `json:"applied,omitempty"`
	RestartNeeded bool   `json:"restart_needed"`
	Message       string `json:"message"`
	// State and Request: a change that waits for an approver (202, R27).
	State   string `json:"state,omitempty"`
	Request string `json:"request,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Camera  string `json:"camera,omitempty"`
}

// settingsErrorView is a refused setting (400): the message names the
// field, and field names it alone.
type settingsErrorView struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// may reports whether who holds p now (role and account, not just role).
func (s *Server) may(ctx context.Context, who principal, p perm.Permission) bool {
	return s.matrix.Allows(who.Role, p) && s.pol.Check(ctx, who.ID, p, "") == nil
}

func (s *Server) restartPending(section string) bool {
	s.restartMu.Lock()
	defer s.restartMu.Unlock()
	return s.restart[section]
}

func (s *Server) markRestart(section string) {
	s.restartMu.Lock()
	defer s.restartMu.Unlock()
	if s.restart == nil {
		s.restart = map[string]bool{}
	}
	s.restart[section] = true
}

func (s *Server) state(ctx context.Context, who principal, section string, available bool) sectionState {
	return sectionState{MayChange: available && s.may(ctx, who, settingsPerm[section]), RestartNeeded: s.restartPending(section), Available: available}
}

// apiSettings shows every settings section with what the caller may
// change (issue 18). Secrets never: the broker URL is redacted, the CA
// and certificate are shown by subject, expiry and fingerprint, the key
// only by where it is kept.
func (s *Server) apiSettings(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Settings != nil, "settings") {
		return
	}
	ctx := r.Context()
	cfg := s.deps.Settings.Config()
	v := settingsView{}

	v.Uplink.sectionState = s.state(ctx, who, "uplink", s.deps.Uplink != nil)
	if u := cfg.Uplink; u != nil {
		v.Uplink.Configured, v.Uplink.Broker, v.Uplink.TopicPrefix = true, u.Broker.String(), u.TopicPrefix
		v.Uplink.CA, v.Uplink.Cert = s.certFile(u.CA), s.certFile(u.Cert)
		switch {
		case strings.HasPrefix(u.Key, config.VaultPrefix):
			v.Uplink.Key = "sealed in the vault"
		case u.Key != "":
			v.Uplink.Key = "plain file (not sealed)"
		}
	}

	v.Allowlist.sectionState = s.state(ctx, who, "allowlist", true)
	v.Allowlist.Entries = append([]string{}, cfg.LAN.Allowlist...)
	if a, ok := remoteAddr(r); ok {
		v.Allowlist.YourAddress = a.String()
	}

	v.NTP.sectionState = s.state(ctx, who, "ntp", s.deps.NTP != nil)
	v.NTP.Servers = []string{}
	if s.deps.NTP != nil {
		if l, err := s.deps.NTP.NTPServers(ctx); err != nil {
			s.log.Warn("web: read NTP servers", "err", err)
		} else if len(l) > 0 {
			v.NTP.Servers = l
		}
	}
	v.NTP.Pool = len(v.NTP.Servers) == 0

	v.GPIO.sectionState = s.state(ctx, who, "gpio", true)
	v.GPIO.StatusLED, v.GPIO.Tamper, v.GPIO.WipeButton = cfg.GPIO.StatusLED, cfg.GPIO.Tamper, cfg.GPIO.WipeButton

	v.Retention.sectionState = s.state(ctx, who, "retention", true)
	b := cfg.Retention().WithDefaults()
	v.Retention.Floor, v.Retention.Ceiling = config.Duration(b.Floor).String(), config.Duration(b.Ceiling).String()
	names := s.may(ctx, who, perm.CamerasRead)
	v.Retention.Cameras = []retentionCamView{}
	for _, c := range cfg.Cameras {
		if !s.retentionScope(ctx, who, c.ID) {
			continue
		}
		rc := retentionCamView{ID: c.ID, Effective: config.Duration(cfg.CameraRetention(c)).String()}
		if c.Retention != 0 {
			rc.Retention = c.Retention.String()
		}
		if names {
			rc.Name = c.Name
		}
		v.Retention.Cameras = append(v.Retention.Cameras, rc)
	}
	writeJSON(w, http.StatusOK, v)
}

// retentionScope reports whether who may see and change camera's
// retention. config.change is not camera-scoped, but a role that sees
// cameras (cameras.read) sees only those of its camera scope (R11, R19), so
// a scoped installer is kept to them here too; a role without
// cameras.read (the admin) sees camera ids only, all of them.
func (s *Server) retentionScope(ctx context.Context, who principal, camera string) bool {
	if !s.matrix.Allows(who.Role, perm.CamerasRead) {
		return true
	}
	return s.pol.Check(ctx, who.ID, perm.CamerasRead, camera) == nil
}

// certFile describes the certificate(s) in the PEM file at path ("" =
// none).
func (s *Server) certFile(path string) *certView {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return &certView{Error: "cannot read the file"}
	}
	cs, err := parseCertsPEM(b)
	if err != nil {
		return &certView{Error: err.Error()}
	}
	return s.viewCert(cs)
}

func (s *Server) viewCert(cs []*x509.Certificate) *certView {
	if len(cs) == 0 {
		return nil
	}
	c := cs[0]
	v := &certView{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotAfter: c.NotAfter.UTC(), SHA256: pemSum(c),
		Expired: s.now().After(c.NotAfter)}
	if len(cs) > 1 {
		v.Count = len(cs)
	}
	return v
}

// settingsInput reads and checks the body of section; on failure it has
// answered (400 naming the field, 413, 415) and noted the refusal for the
// audit record.
func (s *Server) settingsInput(w http.ResponseWriter, r *http.Request, section string) (any, bool) {
	limit := int64(maxJSONBody)
	if section == "uplink" {
		limit = maxUplinkBody // a CA bundle may be long (parseSettings)
	}
	body, err := readBody(w, r, limit)
	if errors.Is(err, errBodyTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return nil, false
	}
	var v any
	if err == nil {
		v, err = parseSettings(section, r.Header.Get("Content-Type"), body)
	}
	clear(body) // may hold a private key
	if err == nil {
		return v, true
	}
	if errors.Is(err, errMediaType) {
		writeError(w, http.StatusUnsupportedMediaType, "request body must be application/json")
		return nil, false
	}
	s.settingsRefused(w, r, err)
	return nil, false
}

// settingsRefused answers a refused setting: 400 with the field for a
// *fieldError or *config.Error, the usual mapping otherwise. The audit
// record gets the message (which never carries secret material: PEM is
// described, not quoted).
func (s *Server) settingsRefused(w http.ResponseWriter, r *http.Request, err error) {
	var fe *fieldError
	var ce *config.Error
	switch {
	case errors.As(err, &fe):
		noteOf(r).detail = clip(fe.Error(), 300)
		writeJSON(w, http.StatusBadRequest, settingsErrorView{Error: fe.Error(), Field: fe.Field})
	case errors.As(err, &ce):
		msg := ce.Path + ": " + ce.Msg
		noteOf(r).detail = clip(msg, 300)
		writeJSON(w, http.StatusBadRequest, settingsErrorView{Error: msg, Field: ce.Path})
	case errors.Is(err, errMalformed):
		noteOf(r).detail = "malformed request"
		writeError(w, http.StatusBadRequest, clip(err.Error(), 300))
	default:
		noteOf(r).detail = clip(stripPrefixes(err.Error()), 300)
		s.fail(w, r, err)
	}
}

// apiSetUplink changes the uplink (network.manage): broker over TLS only,
// CA, client certificate and key. The key is sealed in the vault; none of
// the PEM is logged, audited or answered. The uplink is built at start:
// restart needed.
func (s *Server) apiSetUplink(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Settings != nil && s.deps.Uplink != nil, "uplink settings") {
		return
	}
	v, ok := s.settingsInput(w, r, "uplink")
	if !ok {
		return
	}
	u := v.(*uplinkChange)
	defer clear(u.key)
	now := s.now()
	if u.leaf != nil && now.After(u.leaf.NotAfter) {
		s.settingsRefused(w, r, fieldErr("uplink.cert_pem", "the certificate expired on %s", u.leaf.NotAfter.UTC().Format(time.DateOnly)))
		return
	}
	for i, c := range u.caCerts {
		if now.After(c.NotAfter) {
			s.settingsRefused(w, r, fieldErr("uplink.ca_pem", "certificate %d (%s) expired on %s", i+1, clip(c.Subject.String(), 80), c.NotAfter.UTC().Format(time.DateOnly)))
			return
		}
	}
	caRef, certRef, keyRef := s.deps.Uplink.UplinkRefs()
	err := s.deps.Settings.ChangeSettings(r.Context(), func(c *config.Config) error {
		up := config.Uplink{}
		if c.Uplink != nil {
			up = *c.Uplink
		}
		up.Broker, up.AllowPlaintext = config.URL(u.broker), false // TLS everywhere (R20)
		if u.topic != "" {
			up.TopicPrefix = u.topic
		}
		if u.ca != nil {
			up.CA = caRef
		}
		if u.cert != nil {
			up.Cert, up.Key = certRef, keyRef
		}
		c.Uplink = &up
		if err := c.Validate(); err != nil {
			return err // nothing kept: the config would not take it
		}
		return s.deps.Uplink.StoreUplink(r.Context(), u.ca, u.cert, u.key)
	})
	if err != nil {
		s.settingsRefused(w, r, err)
		return
	}
	parts := []string{"broker " + config.URL(u.broker).String()}
	if u.ca != nil {
		parts = append(parts, fmt.Sprintf("CA replaced (%d certificate(s), first sha256 %s)", len(u.caCerts), pemSum(u.caCerts[0])))
	}
	if u.leaf != nil {
		parts = append(parts, "client certificate replaced (sha256 "+pemSum(u.leaf)+", not after "+u.leaf.NotAfter.UTC().Format(time.DateOnly)+"); key sealed in the vault")
	}
	noteOf(r).detail = clip(strings.Join(parts, "; ")+"; restart needed", 1000)
	s.markRestart("uplink")
	s.log.Info("web: uplink settings changed", "user", who.ID, "ca", u.ca != nil, "cert", u.leaf != nil)
	writeJSON(w, http.StatusOK, settingsResult{Section: "uplink", RestartNeeded: true,
		Message: "saved; the uplink uses it after the next restart of edgerec"})
}

// apiSetAllowlist changes the LAN allowlist (network.manage, R21): saved
// and applied to the LAN page at once. A list that would shut out the
// requester's own address is refused (400): the technician would lock
// himself out of the page.
func (s *Server) apiSetAllowlist(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Settings != nil, "settings") {
		return
	}
	v, ok := s.settingsInput(w, r, "allowlist")
	if !ok {
		return
	}
	a := v.(*allowlistChange)
	if !allowed(a.prefixes, r) {
		addr := r.RemoteAddr
		if ra, ok := remoteAddr(r); ok {
			addr = ra.String()
		}
		s.settingsRefused(w, r, fieldErr("lan.allowlist", "this list would lock you out: your address %s is not in it; add it (or a network that contains it) first", addr))
		return
	}
	err := s.deps.Settings.ChangeSettings(r.Context(), func(c *config.Config) error {
		c.LAN.Allowlist = slices.Clone(a.entries)
		return nil
	})
	if err != nil {
		s.settingsRefused(w, r, err)
		return
	}
	if err := s.SetAllowlist(a.prefixes); err != nil { // checked above; cannot happen
		s.internalError(w, r, err)
		return
	}
	noteOf(r).detail = clip(fmt.Sprintf("allowlist [%s] applied live", strings.Join(a.entries, ", ")), 1000)
	s.log.Info("web: LAN allowlist changed", "user", who.ID, "entries", len(a.entries))
	msg := "saved and in force: the LAN page answers only these addresses"
	if len(a.entries) == 0 {
		msg = "saved and in force: the LAN page answers every address"
	}
	writeJSON(w, http.StatusOK, settingsResult{Section: "allowlist", Applied: "live",
		Message: msg + " (the live view's network check follows at the next restart)"})
}

// apiSetNTP changes the NTP servers (config.change). The time service
// reads its list at start: restart needed.
func (s *Server) apiSetNTP(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.NTP != nil, "NTP settings") {
		return
	}
	v, ok := s.settingsInput(w, r, "ntp")
	if !ok {
		return
	}
	servers := v.([]string)
	if err := s.deps.NTP.SetNTPServers(r.Context(), servers); err != nil {
		s.settingsRefused(w, r, err)
		return
	}
	list := strings.Join(servers, ", ")
	if list == "" {
		list = "the pool"
	}
	noteOf(r).detail = clip("ntp servers: "+list+"; restart needed", 1000)
	s.markRestart("ntp")
	s.log.Info("web: NTP servers changed", "user", who.ID, "servers", len(servers))
	writeJSON(w, http.StatusOK, settingsResult{Section: "ntp", RestartNeeded: true,
		Message: "saved; the time service reads it when it starts (restart the gateway or its time service)"})
}

// apiSetGPIO changes the GPIO pin names (config.change), checked by the
// config's validator. The pins are opened at start: restart needed.
func (s *Server) apiSetGPIO(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Settings != nil, "settings") {
		return
	}
	v, ok := s.settingsInput(w, r, "gpio")
	if !ok {
		return
	}
	g := v.(config.GPIO)
	err := s.deps.Settings.ChangeSettings(r.Context(), func(c *config.Config) error {
		c.GPIO = g
		return nil
	})
	if err != nil {
		s.settingsRefused(w, r, err)
		return
	}
	noteOf(r).detail = clip(fmt.Sprintf("gpio status_led=%q tamper=%q wipe_button=%q; restart needed", g.StatusLED, g.Tamper, g.WipeButton), 500)
	s.markRestart("gpio")
	s.log.Info("web: GPIO settings changed", "user", who.ID)
	writeJSON(w, http.StatusOK, settingsResult{Section: "gpio", RestartNeeded: true,
		Message: "saved; the pins are opened when edgerec starts (restart needed)"})
}

// apiSetRetention changes one camera's retention (config.change, R6)
// within the policy's floor and ceiling. Keeping footage longer applies
// at once; keeping it for less time reduces what is kept, so it is a
// coverage change (R27): a request is filed (202) and an approver who is
// not the requester applies it by approving.
func (s *Server) apiSetRetention(w http.ResponseWriter, r *http.Request, who principal) {
	if need503(w, s.deps.Settings != nil, "settings") {
		return
	}
	v, ok := s.settingsInput(w, r, "retention")
	if !ok {
		return
	}
	rc := v.(retentionChange)
	noteOf(r).target = rc.camera
	field := "cameras." + rc.camera + ".retention"
	cfg := s.deps.Settings.Config()
	i := slices.IndexFunc(cfg.Cameras, func(c config.Camera) bool { return c.ID == rc.camera })
	if i < 0 || !s.retentionScope(r.Context(), who, rc.camera) {
		s.settingsRefused(w, r, fieldErr("camera", "no camera %s on this device", rc.camera))
		return
	}
	if _, err := cfg.Retention().Clamp(rc.retention.D()); err != nil {
		b := cfg.Retention().WithDefaults()
		s.settingsRefused(w, r, fieldErr(field, "%s is outside the policy's floor %s and ceiling %s (R6)", rc.retention,
			config.Duration(b.Floor), config.Duration(b.Ceiling)))
		return
	}
	was := config.Duration(cfg.CameraRetention(cfg.Cameras[i]))
	err := s.deps.Settings.SetRetention(r.Context(), rc.camera, rc.retention)
	var na *NeedsApproval
	switch {
	case errors.As(err, &na):
		g, err := s.fileCoverage(r, who, na.Change, "the settings page")
		if err != nil {
			noteOf(r).detail = clip(err.Error(), 300)
			s.fail(w, r, err)
			return
		}
		noteOf(r).grant = g.ID
		noteOf(r).detail = fmt.Sprintf("retention %s -> %s waiting for approval (R27)", was, rc.retention)
		writeJSON(w, http.StatusAccepted, settingsResult{Section: "retention", State: "waiting_for_approval", Request: g.ID,
			Kind: na.Change.Kind, Camera: rc.camera,
			Message: fmt.Sprintf("keeping footage for less time (%s instead of %s) needs an approver: waiting for approval (request %s); nothing changed yet", rc.retention, was, g.ID)})
		return
	case err != nil:
		s.settingsRefused(w, r, err)
		return
	}
	noteOf(r).detail = fmt.Sprintf("retention %s -> %s applied live", was, rc.retention)
	writeJSON(w, http.StatusOK, settingsResult{Section: "retention", Applied: "live", Camera: rc.camera,
		Message: fmt.Sprintf("saved and in force: footage of %s is kept %s", rc.camera, config.Duration(s.deps.Settings.Config().CameraRetention(cfg.Cameras[i])))})
}
