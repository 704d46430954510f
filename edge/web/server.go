package web

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy/kind"
	"github.com/edgerec/edgerec/policy/perm"
)

// HealthSource gives the current device health.
type HealthSource interface {
	Snapshot() health.Snapshot
}

// ErrUnknownCamera may be returned (wrapped) by Cameras or Live for a camera
// they do not know; the API answers 404.
var ErrUnknownCamera = kind.New(kind.NotFound, "web: unknown camera")

// Config configures the LAN page.
type Config struct {
	Listen    string         // host:port; empty means DefaultListen ("127.0.0.1:8443")
	DataDir   string         // TLS key (sealed) and certificate in <DataDir>/tls, the setup code in <DataDir>/web
	Allowlist []netip.Prefix // empty = all; otherwise other remote addresses get 403 (R21); SetAllowlist replaces it at run time
	DeviceID  string
	// MetricsToken, if set, lets a scraper read /metrics with
	// "Authorization: Bearer <token>" and no session. Only its SHA-256 is kept.
	MetricsToken string
	// RetentionFloor is the policy floor shown against the ring horizon
	// (R7); zero takes the health snapshot's HorizonFloor.
	RetentionFloor time.Duration
	// Site and Filing name the site and its registration/filing number
	// (R4); they head the permission review report.
	Site, Filing string
	// Location is the site's time zone (device.timezone, issue 18): the
	// page, the burned-in times of playback and the review report show
	// local time with its offset. nil = UTC.
	Location *time.Location
	// LiveMaxDuration closes a live view after this long (audited; the
	// page may open a new one). 0 = DefaultLiveMaxDuration.
	LiveMaxDuration time.Duration
	// LiveRecheck is how often running live views are re-authorized
	// (0 = 2 s; at most 5 s).
	LiveRecheck time.Duration
}

// DefaultLiveMaxDuration is the maximum length of one live view.
const DefaultLiveMaxDuration = 30 * time.Minute

// Deps are the parts the LAN page uses. Policy, Health and Cameras are
// required; the others may be nil (their routes answer 503).
type Deps struct {
	Policy       Policy
	Health       HealthSource
	Cameras      Cameras
	Live         Live
	Recordings   Recordings
	Exports      Exports
	Decommission Decommissioner
	// WipeArmed reports whether the physical wipe button was held 10 s
	// recently (R25): then an admin may confirm a wipe on the page without
	// a decommission grant. nil = no button.
	WipeArmed func() bool
	// Backup makes the signed device-state backup (R26: config without
	// secrets, users without password hashes, audit log; no video, no
	// keys) for the named admin. nil = 503.
	Backup func(ctx context.Context, by string) ([]byte, error)
	// Alerts receives the page's security events (R22, R24): the daemon
	// sends them upstream and shows them on the front panel. nil = logs
	// and audit records only.
	Alerts SecurityAlerts
	// Finder is ONVIF discovery and set-up for "add camera" (issue 18;
	// *onvif.Finder). nil = those routes answer 503.
	Finder CameraFinder
	// Sealer seals the device's TLS key at rest (the storage vault;
	// required, issue 13, R32).
	Sealer Sealer
	// Updates installs signed system updates uploaded on the page under
	// a two-person approval (issue 16). nil = 503.
	Updates Updates
	// Settings is the config file's owner (the camera manager): the
	// Settings page reads and changes the device's configuration through
	// it (issue 18). nil = the settings routes answer 503.
	Settings Settings
	// Uplink keeps the uplink's TLS material uploaded on the Settings page
	// (the key sealed in the vault). nil = the uplink section answers 503.
	Uplink UplinkStore
	// NTP is the time service's server list. nil = 503.
	NTP    NTPServers
	Logger *slog.Logger     // nil discards
	Now    func() time.Time // nil means time.Now
}

// DefaultListen is used when Config.Listen is empty.
const DefaultListen = "127.0.0.1:8443"

const (
	shutdownGrace    = 5 * time.Second
	snapshotTimeout  = 5 * time.Second
	maxParallelShots = 2
)

// Server is the LAN page. Create it with New, serve it with Run.
type Server struct {
	cfg   Config
	deps  Deps
	pol   Policy
	log   *slog.Logger
	now   func() time.Time
	cert  *deviceCert
	tls   *tls.Config
	sess  *sessions
	addrT *throttle // per address, all accounts
	pairT *throttle // per address × account
	setup *setupCode
	denyL *rate.Limiter // bounds audit records for anonymous refusals
	seen  *viewCoalescer
	met   *metrics

	metricsToken []byte // SHA-256 of Config.MetricsToken

	// allow is the LAN allowlist in force (R21): Config.Allowlist at
	// start, replaced by the Settings page (SetAllowlist, issue 18).
	allow atomic.Pointer[[]netip.Prefix]
	// restart lists the settings sections changed since start that take
	// effect only at the next start (issue 18; shown on the page).
	restartMu sync.Mutex
	restart   map[string]bool

	// hashSem serialises password checks: each argon2id run holds ~19 MiB.
	hashSem chan struct{}
	// shotSem bounds concurrent snapshot encodes on a 2-core board.
	shotSem chan struct{}
	// playSem bounds concurrent (transcoded) playbacks device-wide.
	playSem chan struct{}
	matrix  *perm.Matrix

	pages   pageSet
	assets  map[string]asset
	handler http.Handler

	runMu   sync.Mutex
	running bool
	ready   chan struct{}
	addr    net.Addr
}

// New loads or creates the device certificate, prepares the one-time setup
// code when the policy store has no user yet, and builds the handler. It
// does not listen; Run does.
func New(cfg Config, deps Deps) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("web: config: data dir is required")
	}
	if cfg.DeviceID == "" {
		return nil, errors.New("web: config: device id is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.LiveMaxDuration <= 0 {
		cfg.LiveMaxDuration = DefaultLiveMaxDuration
	}
	if cfg.LiveRecheck <= 0 || cfg.LiveRecheck > 5*time.Second {
		cfg.LiveRecheck = 2 * time.Second
	}
	allow, err := normalizePrefixes(cfg.Allowlist)
	if err != nil {
		return nil, err
	}
	cfg.Allowlist = allow
	if deps.Policy == nil || deps.Health == nil || deps.Cameras == nil || deps.Sealer == nil {
		return nil, errors.New("web: deps: policy, health, cameras and sealer are required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{
		cfg:     cfg,
		deps:    deps,
		pol:     deps.Policy,
		log:     log,
		now:     now,
		sess:    newSessions(now),
		addrT:   newThrottle(addrThrottlePolicy(), now),
		pairT:   newThrottle(pairThrottlePolicy(), now),
		denyL:   rate.NewLimiter(rate.Every(2*time.Second), 30),
		seen:    newViewCoalescer(now),
		hashSem: make(chan struct{}, 1),
		shotSem: make(chan struct{}, maxParallelShots),
		playSem: make(chan struct{}, maxPlaybacks),
		ready:   make(chan struct{}),
		matrix:  perm.NewMatrix(),
	}
	if cfg.MetricsToken != "" {
		sum := sha256.Sum256([]byte(cfg.MetricsToken))
		s.metricsToken = sum[:]
	}
	if s.cert, err = loadOrCreateCert(cfg.DataDir, cfg.DeviceID, now(), deps.Sealer, log); err != nil {
		return nil, err
	}
	s.tls = serverTLSConfig(s.cert.tls)
	if s.setup, err = openSetupCode(context.Background(), cfg.DataDir, deps.Policy); err != nil {
		return nil, err
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	s.allow.Store(&allow)
	s.met = newMetrics(s)
	s.handler = s.buildHandler()
	return s, nil
}

// serverTLSConfig is TLS 1.2+ with AEAD suites only (TLS 1.3 suites are all
// AEAD and not configurable). The certificate is ECDSA, so only ECDHE-ECDSA
// suites can be negotiated under TLS 1.2. The hybrid post-quantum group comes
// first where the client offers it, then X25519 and P-256.
func serverTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		NextProtos:       []string{"h2", "http/1.1"},
	}
}

// Fingerprint is the SHA-256 of the device certificate (DER) as colon hex, for
// technicians to compare with what their browser shows.
func (s *Server) Fingerprint() string { return s.cert.fingerprint }

// Certificate returns the device certificate (DER), e.g. for a test client's
// root pool.
func (s *Server) Certificate() []byte { return s.cert.leaf.Raw }

// SetupCode returns the one-time setup code that New generated because the
// policy store had no user and no code was provisioned, or "" (already
// handed out, provisioned earlier, or not needed). The plain code is handed
// out once and then forgotten; the caller prints it on the console. The
// server never logs it.
func (s *Server) SetupCode() string { return s.setup.takePlain() }

// SetupPending reports whether the first admin still has to be created.
func (s *Server) SetupPending() bool { return s.setup.pending() }

// Handler returns the whole HTTP handler (security headers, allowlist,
// cross-origin protection, routes), e.g. for httptest.
func (s *Server) Handler() http.Handler { return s.handler }

// Ready is closed once Run has bound its listener. If Run fails before
// binding it stays open, so wait on Run's result as well.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the bound address once Ready is closed, nil before.
func (s *Server) Addr() net.Addr {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	return s.addr
}

// Run serves HTTPS on cfg.Listen until ctx is cancelled, then shuts down
// gracefully (in-flight requests get a few seconds) and returns nil. Plain
// HTTP on the port gets the TLS stack's 400 answer, never a page.
func (s *Server) Run(ctx context.Context) error {
	s.runMu.Lock()
	if s.running {
		s.runMu.Unlock()
		return errors.New("web: server already running")
	}
	s.running = true
	s.runMu.Unlock()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("web: listen %s: %w", s.cfg.Listen, err)
	}
	s.runMu.Lock()
	s.addr = ln.Addr()
	s.runMu.Unlock()
	close(s.ready)

	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls.Clone(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.log.Info("web: LAN page listening", "urls", s.urls(ln.Addr()), "tls_fingerprint", s.cert.fingerprint,
		"device", s.cfg.DeviceID, "allowlist", len(s.currentAllowlist()), "setup_pending", s.setup.pending())

	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	wctx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); s.liveWatch(wctx) }()
	defer func() { stopWatch(); <-watchDone }()

	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	if shutErr != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: serve: %w", err)
	}
	if shutErr != nil {
		return fmt.Errorf("web: shutdown: %w", shutErr)
	}
	s.log.Info("web: LAN page stopped")
	return nil
}

// urls lists the addresses a technician can type. For a wildcard listener it
// names every interface address.
func (s *Server) urls(a net.Addr) []string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return []string{"https://" + a.String() + "/"}
	}
	if !ap.Addr().IsUnspecified() {
		return []string{"https://" + ap.String() + "/"}
	}
	var out []string
	ifaddrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, ia := range ifaddrs {
			p, err := netip.ParsePrefix(ia.String())
			if err != nil || p.Addr().IsLinkLocalUnicast() {
				continue
			}
			out = append(out, "https://"+netip.AddrPortFrom(p.Addr(), ap.Port()).String()+"/")
		}
	}
	if len(out) == 0 {
		out = append(out, "https://"+ap.String()+"/")
	}
	return out
}

// buildHandler assembles the middleware chain, outermost first: security
// headers on every answer, the address allowlist, cross-origin protection
// (CSRF) for unsafe methods, then the routes.
func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	s.registerRoutes(mux)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("web: cross-origin request rejected", "method", r.Method, "path", r.URL.Path,
			"addr", r.RemoteAddr, "origin", r.Header.Get("Origin"))
		writeError(w, http.StatusForbidden, "cross-origin request rejected")
	}))
	return securityHeaders(s.allowlist(cop.Handler(s.recoverer(mux))))
}

// Content-Security-Policy of every answer: no inline script or style.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; script-src 'self'; " +
	"style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders sets the headers every answer carries. Cache-Control is
// no-store by default; only the static assets relax it.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// allowlist answers 403 to remote addresses outside the current allowlist
// (R21): Config.Allowlist at start, replaced at run time by the Settings
// page (SetAllowlist, issue 18). Each request reads the list once.
func (s *Server) allowlist(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowed(s.currentAllowlist(), r) {
			next.ServeHTTP(w, r)
			return
		}
		s.log.Warn("web: address not in allowlist", "addr", r.RemoteAddr, "path", r.URL.Path)
		writeError(w, http.StatusForbidden, "forbidden")
	})
}

// allowed reports whether r's peer address is in list (an empty list
// allows every address).
func allowed(list []netip.Prefix, r *http.Request) bool {
	if len(list) == 0 {
		return true
	}
	a, ok := remoteAddr(r)
	if !ok {
		return false
	}
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// currentAllowlist is the allowlist in force.
func (s *Server) currentAllowlist() []netip.Prefix {
	if p := s.allow.Load(); p != nil {
		return *p
	}
	return nil
}

// SetAllowlist replaces the LAN allowlist at run time (R21, issue 18): the
// next request is checked against it; requests already running finish.
// Prefixes are normalized as in New; an invalid one is an error and
// nothing changes (dropping it could widen the list).
func (s *Server) SetAllowlist(list []netip.Prefix) error {
	n, err := normalizePrefixes(list)
	if err != nil {
		return err
	}
	s.allow.Store(&n)
	return nil
}

// normalizePrefixes unmaps IPv4-mapped IPv6 prefixes (::ffff:10.0.0.0/104 is
// 10.0.0.0/8) and masks host bits, so they compare with unmapped peers.
// An invalid prefix is an error: dropping it could turn a narrow allowlist
// into an empty one, which allows everybody.
func normalizePrefixes(in []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for i, p := range in {
		if !p.IsValid() {
			return nil, fmt.Errorf("web: config: allowlist entry %d is not a valid prefix", i)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// remoteAddr is the peer address of r (IPv4-mapped IPv6 unmapped). The device
// is reached directly on the LAN; forwarding headers are not trusted.
func remoteAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}
