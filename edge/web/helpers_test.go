package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/live"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/record"
	"github.com/edgerec/edgerec/edge/schedule"
	"github.com/edgerec/edgerec/edge/source"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/password"
	"github.com/edgerec/edgerec/policy/rules"
	"github.com/edgerec/edgerec/policy/sealtest"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keys"
)

// testVault is a real storage vault under a random root key in its own
// temp dir (the daemon passes its store's vault).
func testVault(t *testing.T) *keys.Vault {
	t.Helper()
	root, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.Open(t.TempDir(), root, false)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ks.Vault()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fakeClock is the LAN page's clock in tests (sessions, throttles): it
// follows real time plus an offset the test can advance. The policy store
// keeps real time.
type fakeClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func newFakeClock() *fakeClock { return &fakeClock{} }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testCams is a small camera manager over REAL pipeline cameras (sources
// from test://pattern or the test's own opener), recording into REAL
// storage, feeding REAL edge/live. SetMasks restarts the pipeline so the
// masks apply to recording and live view at once (as the production
// manager must).
type testCams struct {
	ctx    context.Context
	health *health.Tracker
	store  *storage.Store
	open   pipeline.Opener
	log    *slog.Logger

	mu   sync.Mutex
	cams map[string]*camEntry
	wg   sync.WaitGroup
	// pol and proposals: coverage changes (R27) as the production manager
	// does them (cmd/edgerec/coverage.go), kept in memory by digest.
	pol       *policy.Store
	proposals map[string]fakeProposal
}

type fakeProposal struct {
	id    string
	kind  string
	after *config.Camera // nil = remove
}

// propose keeps a change and returns the manager's refusal.
func (m *testCams) propose(id, kind string, after *config.Camera) error {
	if m.proposals == nil {
		m.proposals = map[string]fakeProposal{}
	}
	d := fmt.Sprintf("%064x", len(m.proposals)+1)
	m.proposals[d] = fakeProposal{id: id, kind: kind, after: after}
	return &NeedsApproval{Change: CoverageChange{Camera: id, Kind: kind, Digest: d}}
}

func (m *testCams) ApplyCoverage(ctx context.Context, grantID, actorID string) error {
	g, err := m.pol.Grant(ctx, grantID)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.proposals[g.Digest]
	if !ok {
		return ErrCoverageConflict
	}
	if err := m.pol.UseCoverage(ctx, grantID, actorID, g.Digest); err != nil {
		return err
	}
	delete(m.proposals, g.Digest)
	m.stop(p.id)
	if p.after == nil {
		m.health.RemoveCamera(p.id)
		return nil
	}
	return m.start(*p.after)
}

type camEntry struct {
	cfg    config.Camera
	cam    *pipeline.Camera
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *testCams) start(cfg config.Camera) error {
	kf := cfg.KeyframeInterval.D()
	if kf == 0 {
		kf = time.Second
	}
	set, err := cfg.MaskSet()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{ID: cfg.ID, Name: cfg.Name, Source: string(cfg.Source), Masks: set,
		BitrateKbps: 800, KeyframeInterval: kf}, pipeline.Deps{Health: m.health, Open: m.open, Logger: m.log})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	ctx, cancel := context.WithCancel(m.ctx)
	e := &camEntry{cfg: cfg, cam: cam, cancel: cancel, done: make(chan struct{})}
	rec := record.New(record.Config{Camera: cfg.ID, MaxSegment: 10 * time.Second, Logger: m.log}, m.store, cam.Hub().Subscribe(64))
	m.wg.Add(2)
	go func() { defer m.wg.Done(); defer close(e.done); _ = cam.Run(ctx) }()
	go func() { defer m.wg.Done(); _ = rec.Run(ctx) }()
	m.cams[cfg.ID] = e
	return nil
}

func (m *testCams) stop(id string) {
	if e, ok := m.cams[id]; ok {
		e.cancel()
		<-e.done
		delete(m.cams, id)
	}
}

func (m *testCams) List(context.Context) ([]config.Camera, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []config.Camera
	for _, e := range m.cams {
		out = append(out, e.cfg)
	}
	return out, nil
}

func (m *testCams) Get(_ context.Context, id string) (config.Camera, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.cams[id]
	if !ok {
		return config.Camera{}, fmt.Errorf("camera %q: %w", id, ErrUnknownCamera)
	}
	return e.cfg, nil
}

func (m *testCams) Add(_ context.Context, c config.Camera) error {
	if err := rules.CheckZone(c.Zone, rules.Site{}); err != nil {
		return fmt.Errorf("camera %q refused: %w: %w", c.ID, err, config.ErrRefused)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cams[c.ID]; ok {
		return fmt.Errorf("camera %q: %w", c.ID, ErrCameraExists)
	}
	return m.start(c)
}

func (m *testCams) Update(_ context.Context, c config.Camera) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.cams[c.ID]
	if !ok {
		return ErrUnknownCamera
	}
	c.Masks = e.cfg.Masks
	if c.Zone != e.cfg.Zone {
		return m.propose(c.ID, "zone_change", &c)
	}
	// As edge/cameras classifies it (R27, issue 18).
	before, _ := config.ScheduleOf(e.cfg, time.UTC)
	after, _ := config.ScheduleOf(c, time.UTC)
	if schedule.Reduces(before, after) {
		return m.propose(c.ID, "schedule_reduce", &c)
	}
	m.stop(c.ID)
	return m.start(c)
}

func (m *testCams) Remove(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cams[id]; !ok {
		return ErrUnknownCamera
	}
	return m.propose(id, "remove", nil)
}

func (m *testCams) SetMasks(_ context.Context, id string, set mask.Set) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.cams[id]
	if !ok {
		return ErrUnknownCamera
	}
	c := e.cfg
	c.Masks = nil
	for _, mk := range set.Masks() {
		cm := config.Mask{Name: mk.Name, Style: mk.Style}
		for _, p := range mk.Polygon {
			cm.Polygon = append(cm.Polygon, []float64{p.X, p.Y})
		}
		c.Masks = append(c.Masks, cm)
	}
	if mask.Weakened(e.cfg.MaskList(), c.MaskList(), mask.CompareW, mask.CompareH) > 0 {
		return m.propose(id, "mask_reduce", &c)
	}
	m.stop(id)
	return m.start(c)
}

func (m *testCams) Probe(ctx context.Context, url string) (media.StreamInfo, error) {
	return source.Probe(ctx, url, source.Options{})
}

func (m *testCams) Devices(context.Context) ([]Device, error) {
	return []Device{{Path: "/dev/video0", Name: "vivid (test)", URL: "v4l2:///dev/video0"}}, nil
}

func (m *testCams) Snapshot(ctx context.Context, id string) (image.Image, time.Time, error) {
	m.mu.Lock()
	e, ok := m.cams[id]
	m.mu.Unlock()
	if !ok {
		return nil, time.Time{}, ErrUnknownCamera
	}
	return e.cam.Snapshot(ctx)
}

// Subscribe feeds edge/live (live.Source).
func (m *testCams) Subscribe(id string) (live.Feed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.cams[id]
	if !ok {
		return nil, live.ErrUnknownCamera
	}
	return e.cam.Hub().Subscribe(30), nil
}

type testEnv struct {
	t      *testing.T
	srv    *Server
	base   string
	client *http.Client
	clock  *fakeClock
	logs   *syncBuffer
	pol    *policy.Store
	store  *storage.Store
	cams   *testCams
	live   *live.Server
	health *health.Tracker
	code   string
	dir    string
	// settings is the config owner of the Settings page (envOptions.settings).
	settings *testSettings
}

type envOptions struct {
	opener  pipeline.Opener
	noCams  bool
	metrics string
	exports Exports
	allow   []netip.Prefix
	decom   Decommissioner
	updates Updates
	armed   func() bool
	alerts  SecurityAlerts
	liveMax time.Duration // 0 = the default maximum live duration
	// polClock, when set, is the policy store's clock (grant validity,
	// audit times); the page's own clock stays separate so sessions do
	// not expire when a test moves the policy clock past a grant's end.
	polClock *fakeClock
	// recordings wraps the real recording store as the server sees it
	// (nil: the store itself).
	recordings func(*storage.Store) Recordings
	// loc is the site's time zone (nil: UTC).
	loc *time.Location
	// finder is the ONVIF discovery and set-up (nil: none, 503).
	finder CameraFinder
	// settings: the Settings page's config owner, uplink store and NTP
	// file over a config file in the env's dir (settings_test.go).
	settings bool
}

// minimalDeps is a real policy store in dir and an empty camera manager.
func minimalDeps(t *testing.T, dir string) Deps {
	t.Helper()
	ctx := context.Background()
	vault := sealtest.New()
	if _, err := policy.Provision(ctx, dir, vault); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Open(ctx, policy.Config{DataDir: dir, Password: password.Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16}}, policy.Deps{Sealer: vault})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pol.Close() })
	tr := health.NewTracker("gw-test-01", "test", nil)
	return Deps{Policy: pol, Health: tr, Cameras: &testCams{ctx: ctx, health: tr, cams: map[string]*camEntry{}}, Sealer: testVault(t)}
}

// newEnv builds the LAN page over real parts: a policy store and a
// recording store in a temp dir, real pipeline cameras and real edge/live,
// listening on 127.0.0.1:0. The client trusts the device certificate and
// does not follow redirects.
func newEnv(t *testing.T, o envOptions) *testEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	vault := sealtest.New() // the device vault (storage's, in the daemon)
	if _, err := policy.Provision(ctx, dir, vault); err != nil {
		t.Fatal(err)
	}
	pdeps := policy.Deps{Log: log, Sealer: vault}
	if o.polClock != nil {
		pdeps.Now = o.polClock.Now
	}
	pol, err := policy.Open(ctx, policy.Config{DataDir: dir, Password: password.Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16}}, pdeps)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{Logger: log, FlushInterval: 200 * time.Millisecond, ChunkSize: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tracker := health.NewTracker("gw-test-01", "0.1.0-test", nil)
	tracker.SetStorage(health.Storage{RingBytes: 64 << 20, UsedBytes: 1 << 20, Horizon: 20 * 24 * time.Hour, HorizonFloor: 30 * 24 * time.Hour, Cipher: "aes-256-gcm"})
	cams := &testCams{ctx: ctx, health: tracker, store: st, open: o.opener, log: log, cams: map[string]*camEntry{}, pol: pol}
	clock := &fakeClock{}
	lv, err := live.New(live.Config{AllowLoopback: true}, live.Deps{Source: cams, Logger: log, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	liveDone := make(chan struct{})
	go func() { _ = lv.Run(ctx); close(liveDone) }()
	if !o.noCams {
		if err := cams.Add(ctx, config.Camera{ID: "cam1", Name: "Front door", Source: "test://pattern?width=320&height=180&fps=10",
			Zone: rules.ZoneEntrance, Signage: config.Signage{AttestedBy: "setup", Date: config.Date{Time: time.Now()}}}); err != nil {
			t.Fatal(err)
		}
	}
	var recs Recordings = st
	if o.recordings != nil {
		recs = o.recordings(st)
	}
	deps := Deps{Policy: pol, Health: tracker, Cameras: cams, Live: lv, Recordings: recs, Exports: o.exports, Decommission: o.decom, WipeArmed: o.armed, Alerts: o.alerts, Finder: o.finder, Sealer: st.Vault(), Updates: o.updates, Logger: log, Now: clock.Now}
	var sets *testSettings
	if o.settings {
		sets = newTestSettings(t, dir, cams, st.Vault())
		deps.Settings, deps.Uplink, deps.NTP = sets, sets.uplink, sets.ntp
	}
	srv, err := New(Config{Listen: "127.0.0.1:0", DataDir: dir, DeviceID: "gw-test-01", MetricsToken: o.metrics, Allowlist: o.allow, Site: "Branch 12", Filing: "GA-2026-0042",
		LiveMaxDuration: o.liveMax, Location: o.loc},
		deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	code := srv.SetupCode()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("server not ready")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
		<-liveDone
		cams.mu.Lock()
		for id := range cams.cams {
			cams.stop(id)
		}
		cams.mu.Unlock()
		cams.wg.Wait()
		_ = st.Close()
		_ = pol.Close()
	})
	return &testEnv{t: t, srv: srv, base: "https://" + srv.Addr().String(), client: trustingClient(t, srv, nil), clock: clock,
		logs: logs, pol: pol, store: st, cams: cams, live: lv, health: tracker, code: code, dir: dir, settings: sets}
}

// trustingClient trusts only the device certificate.
func trustingClient(t *testing.T, srv *Server, tweak func(*tls.Config)) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	cert, err := x509.ParseCertificate(srv.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	pool.AddCert(cert)
	tc := &tls.Config{RootCAs: pool}
	if tweak != nil {
		tweak(tc)
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request; same-origin headers are set on unsafe methods the way
// a browser would.
func (e *testEnv) do(method, path, ctype, body string, cookie *http.Cookie) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Origin", e.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// jdo sends v as JSON and decodes a JSON answer into out (if not nil); it
// returns the status.
func (e *testEnv) jdo(method, path string, v any, c *http.Cookie, out any) int {
	e.t.Helper()
	body := ""
	ct := ""
	if v != nil {
		b, _ := json.Marshal(v)
		body, ct = string(b), "application/json"
	}
	resp := e.do(method, path, ct, body, c)
	b := readAll(e.t, resp)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// must is jdo that fails the test on an unexpected status.
func (e *testEnv) must(want int, method, path string, v any, c *http.Cookie, out any) {
	e.t.Helper()
	var raw json.RawMessage
	got := e.jdo(method, path, v, c, &raw)
	if got != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *testEnv) loginJSON(user, pw string) *http.Response {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"user": user, "password": pw})
	return e.do(http.MethodPost, "/api/v1/login", "application/json", string(b), nil)
}

func (e *testEnv) login(user, pw string) *http.Cookie {
	e.t.Helper()
	resp := e.loginJSON(user, pw)
	b := readAll(e.t, resp)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", user, resp.StatusCode, b)
	}
	return sessionCookieOf(e.t, resp)
}

const testPassword = "correct horse battery"

// testOneTime is the password an admin gives a new account; its owner
// replaces it at first login (issue 12).
const testOneTime = "one-time from the admin"

// firstLogin signs name in with the one-time password and replaces it with
// testPassword, as a new user does; it returns the session.
func (e *testEnv) firstLogin(name string) *http.Cookie {
	e.t.Helper()
	resp := e.loginJSON(name, testOneTime)
	body := readAll(e.t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"must_change":true`) {
		e.t.Fatalf("first login %s: %d %s", name, resp.StatusCode, body)
	}
	c := sessionCookieOf(e.t, resp)
	e.must(204, "POST", "/api/v1/account/password", passwordRequest{Old: testOneTime, Password: testPassword}, c, nil)
	return c
}

// setupAdmin runs first-run setup with the code and returns the admin's
// session.
func (e *testEnv) setupAdmin() *http.Cookie {
	e.t.Helper()
	b, _ := json.Marshal(setupRequest{Code: e.code, User: "admin", Password: testPassword})
	resp := e.do(http.MethodPost, "/api/v1/setup", "application/json", string(b), nil)
	body := readAll(e.t, resp)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("setup: %d %s", resp.StatusCode, body)
	}
	return sessionCookieOf(e.t, resp)
}

// team is one signed-in user per role.
type team struct {
	ids     map[string]string
	cookies map[string]*http.Cookie
}

// makeTeam creates admin (setup), approver (first approver: bootstrap),
// installer, operator (trained), auditor and approver2 — every role
// assignment through the request → approve flow (R13).
func (e *testEnv) makeTeam() team {
	e.t.Helper()
	tm := team{ids: map[string]string{}, cookies: map[string]*http.Cookie{}}
	admin := e.setupAdmin()
	tm.cookies["admin"] = admin
	var me meResponse
	e.must(200, "GET", "/api/v1/me", nil, admin, &me)
	tm.ids["admin"] = me.ID
	create := func(name string) string {
		var out map[string]string
		e.must(201, "POST", "/api/v1/users", createUserRequest{User: name, Password: testOneTime}, admin, &out)
		tm.ids[name] = out["id"]
		return out["id"]
	}
	apID := create("approver")
	var g grantView
	e.must(201, "POST", "/api/v1/users/"+apID+"/role", roleRequest{Role: "approver"}, admin, &g)
	if g.State != "approved" {
		e.t.Fatalf("first approver not bootstrapped: %+v", g)
	}
	tm.cookies["approver"] = e.firstLogin("approver")
	for _, r := range []struct{ name, role string }{{"installer", "installer"}, {"operator", "operator"}, {"auditor", "auditor"}, {"approver2", "approver"}} {
		id := create(r.name)
		e.must(201, "POST", "/api/v1/users/"+id+"/role", roleRequest{Role: r.role}, admin, &g)
		e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, tm.cookies["approver"], nil)
		if r.role == "operator" {
			e.must(204, "POST", "/api/v1/users/"+id+"/training", trainingRequest{Date: time.Now().UTC().Format(time.DateOnly)}, admin, nil)
		}
		tm.cookies[r.name] = e.firstLogin(r.name)
	}
	return tm
}

func sessionCookieOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", sessionCookie, resp.Header.Values("Set-Cookie"))
	return nil
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	return b
}

// jsonError asserts a JSON error answer with status and returns its message.
func jsonError(t *testing.T, resp *http.Response, status int) string {
	t.Helper()
	body := readAll(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d (body %s)", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q, want JSON", resp.Request.URL.Path, ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Fatalf("%s: body %q is not {\"error\": …}", resp.Request.URL.Path, body)
	}
	return e.Error
}

// auditActions returns the audit records (newest last).
func (e *testEnv) audit() []recordView {
	e.t.Helper()
	recs, err := e.pol.AuditAfter(context.Background(), 0, 100000)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]recordView, 0, len(recs))
	for _, r := range recs {
		out = append(out, recordView{Seq: r.Seq, Actor: r.Actor, Action: r.Action, Target: r.Target, Grant: r.Grant, Result: r.Result, Detail: r.Detail})
	}
	return out
}
