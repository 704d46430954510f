package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/onvif"
	"github.com/edgerec/edgerec/policy/perm"
)

// CameraFinder is ONVIF discovery and set-up for the "add camera" form
// (*onvif.Finder implements it). nil = the routes answer 503.
type CameraFinder interface {
	Discover(ctx context.Context) (onvif.DiscoveryResult, error)
	Setup(ctx context.Context, req onvif.SetupRequest) (onvif.SetupResult, error)
}

// foundView is one discovered camera on the page, marked when a
// configured camera already uses its host.
type foundView struct {
	onvif.Found
	AddedAs string `json:"added_as,omitempty"` // id of the camera on that host
}

type discoverView struct {
	Found      []foundView `json:"found"`
	Answers    int         `json:"answers"`
	Duplicates int         `json:"duplicates"`
	Ignored    int         `json:"ignored"`
	TookMs     int64       `json:"took_ms"`
	FirstMs    int64       `json:"first_ms"` // probe → first camera
}

// apiONVIFDiscover sends one WS-Discovery probe on the camera LAN and lists
// the answers (GET /api/v1/onvif/discover; cameras.manage, audited).
func (s *Server) apiONVIFDiscover(w http.ResponseWriter, r *http.Request, who principal) {
	if s.deps.Finder == nil {
		writeError(w, http.StatusServiceUnavailable, "ONVIF discovery is not available on this device")
		return
	}
	res, err := s.deps.Finder.Discover(r.Context())
	if err != nil {
		noteOf(r).detail = clip("discovery failed: "+err.Error(), 300)
		s.onvifFail(w, r, err, "")
		return
	}
	hosts := map[string]string{}
	if cams, err := s.deps.Cameras.List(r.Context()); err == nil {
		for _, c := range cams {
			if s.pol.Check(r.Context(), who.ID, perm.CamerasRead, c.ID) != nil {
				continue // a camera outside the installer's scope is not named
			}
			if u, err := url.Parse(string(c.Source)); err == nil && u.Hostname() != "" {
				hosts[u.Hostname()] = c.ID
			}
		}
	}
	out := discoverView{Found: make([]foundView, 0, len(res.Found)), Answers: res.Answers, Duplicates: res.Duplicates, Ignored: res.Ignored, TookMs: res.Took.Milliseconds(), FirstMs: res.First.Milliseconds()}
	for _, f := range res.Found {
		v := foundView{Found: f}
		for _, x := range f.XAddrs {
			if u, err := url.Parse(x); err == nil && hosts[u.Hostname()] != "" {
				v.AddedAs = hosts[u.Hostname()]
				break
			}
		}
		out.Found = append(out.Found, v)
	}
	noteOf(r).detail = fmt.Sprintf("discovery: %d cameras (%d answers, %d ignored) in %d ms", len(out.Found), res.Answers, res.Ignored, out.TookMs)
	writeJSON(w, http.StatusOK, out)
}

// onvifSetupInput is the body of POST /api/v1/onvif/setup. The password is
// used for the digest only: never stored here, logged, audited or echoed.
type onvifSetupInput struct {
	XAddr    string `json:"xaddr"`
	Username string `json:"username"`
	Password string `json:"password"`
	SetClock bool   `json:"set_clock"`
}

type onvifSetupView struct {
	onvif.SetupResult
	// Source and SubSource are the stream addresses for the camera form,
	// without credentials (the page adds the ones the installer typed; on
	// save they move into the device's vault).
	Source    string `json:"source"`
	SubSource string `json:"sub_source,omitempty"`
}

// apiONVIFSetup reads a picked camera: device information, profiles, the
// main and sub stream addresses, its clock (and sets it from the gateway's
// synced clock when asked). POST /api/v1/onvif/setup; cameras.manage,
// audited without the password.
func (s *Server) apiONVIFSetup(w http.ResponseWriter, r *http.Request, _ principal) {
	if s.deps.Finder == nil {
		writeError(w, http.StatusServiceUnavailable, "ONVIF set-up is not available on this device")
		return
	}
	var in onvifSetupInput
	if !decode(w, r, &in) {
		return
	}
	if _, err := onvif.CheckXAddr(in.XAddr); err != nil {
		noteOf(r).detail = "onvif set-up refused: bad device address"
		s.onvifFail(w, r, err, in.Password)
		return
	}
	if in.Username == "" || len(in.Username) > 128 || len(in.Password) > 256 || strings.ContainsFunc(in.Username, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		noteOf(r).detail = "onvif set-up refused: bad user name or password"
		writeError(w, http.StatusBadRequest, "give the camera's user name (1–128 characters) and password (at most 256)")
		return
	}
	target := clip(in.XAddr, 200) + " as " + clip(in.Username, 64)
	start := time.Now()
	res, err := s.deps.Finder.Setup(r.Context(), onvif.SetupRequest{XAddr: in.XAddr, Cred: onvif.Credentials{Username: in.Username, Password: in.Password}, SetClock: in.SetClock})
	if err != nil {
		noteOf(r).detail = clip("onvif set-up "+target+" failed: "+redactSecret(err.Error(), in.Password), 400)
		s.onvifFail(w, r, err, in.Password)
		return
	}
	v := onvifSetupView{SetupResult: res, Source: res.Main.URI}
	if res.Sub != nil {
		v.SubSource = res.Sub.URI
	}
	clock := "clock left"
	if res.Clock.Set {
		clock = fmt.Sprintf("clock set (was %+.0f s off)", res.Clock.OffsetSecs)
	}
	noteOf(r).detail = clip(fmt.Sprintf("onvif set-up %s: %s %s fw %s serial %s, %d profiles, %s, %d ms", target,
		res.Device.Manufacturer, res.Device.Model, res.Device.FirmwareVersion, res.Device.SerialNumber, len(res.Profiles), clock, time.Since(start).Milliseconds()), 400)
	writeJSON(w, http.StatusOK, v)
}

// redactSecret removes a secret from a message (defence in depth: the
// onvif package never puts one there).
func redactSecret(msg, secret string) string {
	if len(secret) >= 3 {
		msg = strings.ReplaceAll(msg, secret, "***")
	}
	return msg
}

// onvifFail maps the ONVIF errors to one clear answer.
func (s *Server) onvifFail(w http.ResponseWriter, r *http.Request, err error, secret string) {
	msg := clip(strings.ReplaceAll(redactSecret(err.Error(), secret), "onvif: ", ""), 400)
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the page went away
	case errors.Is(err, onvif.ErrInvalid), errors.Is(err, onvif.ErrNotLAN):
		writeError(w, http.StatusBadRequest, msg)
	case errors.Is(err, onvif.ErrBusy):
		writeError(w, http.StatusTooManyRequests, msg)
	case errors.Is(err, onvif.ErrUnauthorized):
		writeError(w, http.StatusUnprocessableEntity, msg+"; nothing was changed on the camera")
	case errors.Is(err, onvif.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, msg+"; nothing was changed on the camera")
	case errors.Is(err, onvif.ErrUnreachable), errors.Is(err, onvif.ErrBadAnswer), errors.Is(err, onvif.ErrTooLarge), errors.Is(err, onvif.ErrFault):
		writeError(w, http.StatusBadGateway, msg+"; nothing was changed on the camera")
	case errors.Is(err, onvif.ErrDiscovery):
		writeError(w, http.StatusServiceUnavailable, msg)
	default:
		s.internalError(w, r, err)
	}
}
