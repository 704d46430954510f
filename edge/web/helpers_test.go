package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
)

// fakeClock is a settable clock shared by the server and the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fakeHealth struct{ snap health.Snapshot }

func (f *fakeHealth) Snapshot() health.Snapshot { return f.snap }

// fakeShots serves solid pictures; errs overrides per camera.
type fakeShots struct {
	imgs map[string]image.Image
	errs map[string]error
}

func (f *fakeShots) Snapshot(_ context.Context, id string) (image.Image, time.Time, error) {
	if err := f.errs[id]; err != nil {
		return nil, time.Time{}, err
	}
	img, ok := f.imgs[id]
	if !ok {
		return nil, time.Time{}, ErrUnknownCamera
	}
	return img, time.Date(2026, 3, 1, 9, 59, 59, 0, time.UTC), nil
}

func solid(w, h int, c color.Color) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
	return img
}

func testHealth() health.Snapshot {
	return health.Snapshot{
		Device:   "gw-test-01",
		Time:     time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Started:  time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC),
		Uptime:   "2h0m0s",
		Firmware: "0.1.0-test",
		Cameras: []health.Camera{
			{ID: "cam1", Name: "Front door", State: health.StateRecording, Masked: true, Width: 320, Height: 180, FPS: 15, Kbps: 900, Frames: 1234},
			{ID: "cam2", Name: "Yard", State: health.StateLost, Reason: "no frames for 30s", Width: 640, Height: 360},
		},
		Storage: health.Storage{
			RingBytes: 8 << 30, UsedBytes: 3 << 30, Segments: 42, Cipher: "xchacha20poly1305",
			Horizon: 20 * 24 * time.Hour, HorizonFloor: 30 * 24 * time.Hour,
		},
		Warnings: []string{"retention horizon 20d below floor 30d"},
	}
}

// cheapArgon keeps tests fast; the default parameters are covered by the
// tests that call New.
func cheapArgon() argonParams {
	return argonParams{Time: 1, Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16}
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

type testEnv struct {
	t        *testing.T
	srv      *Server
	base     string
	client   *http.Client
	clock    *fakeClock
	logs     *syncBuffer
	shots    *fakeShots
	user     string
	password string
}

type envOption func(*Config, *Deps)

// newEnv builds a server with cheap argon2 parameters and runs it on
// 127.0.0.1:0; the client trusts the device certificate and does not follow
// redirects.
func newEnv(t *testing.T, opts ...envOption) *testEnv {
	t.Helper()
	clock := newFakeClock()
	logs := &syncBuffer{}
	shots := &fakeShots{
		imgs: map[string]image.Image{"cam1": solid(320, 180, color.RGBA{R: 200, G: 200, B: 200, A: 255})},
		errs: map[string]error{},
	}
	cfg := Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), DeviceID: "gw-test-01"}
	deps := Deps{
		Health:    &fakeHealth{snap: testHealth()},
		Snapshots: shots,
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       clock.Now,
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	srv, err := newServer(cfg, deps, cheapArgon())
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	user, pass := srv.SetupCredential()

	ctx, cancel := context.WithCancel(context.Background())
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
				t.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})

	return &testEnv{
		t: t, srv: srv, base: "https://" + srv.Addr().String(),
		client: trustingClient(t, srv, nil), clock: clock, logs: logs, shots: shots,
		user: user, password: pass,
	}
}

// trustingClient trusts only the device certificate (so the SAN 127.0.0.1 is
// verified too). tweak may adjust the TLS config.
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
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends a request; cookie may be nil. Same-origin headers are set on
// unsafe methods the way a browser would.
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

func (e *testEnv) loginJSON(user, password string) *http.Response {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"user": user, "password": password})
	return e.do(http.MethodPost, "/api/v1/login", "application/json", string(b), nil)
}

// login logs in with the setup credential and returns the session cookie.
func (e *testEnv) login() *http.Cookie {
	e.t.Helper()
	resp := e.loginJSON(e.user, e.password)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("login: status %d", resp.StatusCode)
	}
	return sessionCookieOf(e.t, resp)
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
	if err != nil {
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
