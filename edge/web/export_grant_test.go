package web

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/storage"
)

// testExports runs REAL exports (edge/export over the real recording
// store) into a temp dir, synchronously, with a test signing key.
type testExports struct {
	dir   string
	key   ed25519.PrivateKey
	store *storage.Store // set after newEnv

	mu   sync.Mutex
	jobs map[string]ExportStatus
}

func newTestExports(t *testing.T) *testExports {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testExports{dir: t.TempDir(), key: key, jobs: map[string]ExportStatus{}}
}

func (x *testExports) Start(ctx context.Context, req ExportRequest) (ExportStatus, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	st := ExportStatus{ID: "x-" + hex.EncodeToString(b[:]), Grant: req.Grant, Camera: req.Camera, From: req.From, To: req.To,
		By: req.By, State: "running", Started: time.Now()}
	var buf bytes.Buffer
	m, err := export.Export(ctx, x.store, export.Request{Device: "gw-test-01", Camera: req.Camera, From: req.From, To: req.To,
		GrantID: req.Grant, FileName: st.ID + ".mp4",
		Authorizer: export.AuthorizerFunc(func(context.Context, string, string, time.Time, time.Time) error { return nil })}, &buf, nil)
	if err == nil {
		var doc []byte
		if doc, err = export.SignManifest(m, x.key); err == nil {
			err = os.WriteFile(filepath.Join(x.dir, st.ID+".manifest.json"), doc, 0o600)
		}
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(x.dir, st.ID+".mp4"), buf.Bytes(), 0o600)
	}
	if err != nil {
		return ExportStatus{}, err
	}
	st.State, st.Progress, st.Bytes = "done", 1, int64(buf.Len())
	x.mu.Lock()
	x.jobs[st.ID] = st
	x.mu.Unlock()
	return st, nil
}

func (x *testExports) Status(_ context.Context, id string) (ExportStatus, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	st, ok := x.jobs[id]
	if !ok {
		return ExportStatus{}, fmt.Errorf("%w: no export %q", ErrInvalid, id)
	}
	return st, nil
}

func (x *testExports) List(context.Context) ([]ExportStatus, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []ExportStatus
	for _, st := range x.jobs {
		out = append(out, st)
	}
	return out, nil
}

func (x *testExports) Open(_ context.Context, id, part string) (io.ReadCloser, int64, error) {
	name := map[string]string{"mp4": id + ".mp4", "manifest": id + ".manifest.json"}[part]
	if name == "" {
		return nil, 0, fmt.Errorf("%w: part %q", ErrInvalid, part)
	}
	f, err := os.Open(filepath.Join(x.dir, name))
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// exportFixture: a team, footage of cam1, an approved export grant of the
// operator and one finished export under it.
type exportFixture struct {
	e        *testEnv
	tm       team
	grant    grantView
	xid      string
	polClock *fakeClock
}

func newExportFixture(t *testing.T) *exportFixture {
	t.Helper()
	xs := newTestExports(t)
	pc := newFakeClock()
	e := newEnv(t, envOptions{exports: xs, polClock: pc})
	xs.store = e.store
	tm := e.makeTeam()
	op, ap := tm.cookies["operator"], tm.cookies["approver"]
	start := time.Now().UTC()
	waitFootage(t, e, "cam1", 4*time.Second)
	end := time.Now().UTC()
	var g grantView
	e.must(201, "POST", "/api/v1/grants", footageRequest{Action: "export", Purpose: "incident 43", Cameras: []string{"cam1"},
		From: start.Add(-time.Minute), To: end.Add(time.Minute), ValidityHours: 1}, op, &g)
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, ap, nil)
	var st ExportStatus
	e.must(202, "POST", "/api/v1/exports", exportInput{Grant: g.ID, Camera: "cam1", From: start, To: end}, op, &st)
	if st.State != "done" {
		t.Fatalf("export %+v", st)
	}
	return &exportFixture{e: e, tm: tm, grant: g, xid: st.ID, polClock: pc}
}

// deniedFor counts the audit records after seq that cite grant gid with
// result denied, and returns them.
func (e *testEnv) deniedFor(after uint64, gid string) []recordView {
	var out []recordView
	for _, r := range e.audit() {
		if r.Seq > after && r.Grant == gid && r.Result == "denied" {
			out = append(out, r)
		}
	}
	return out
}

// ffprobeFrames decodes every frame of an MP4 with ffprobe (not the
// project's decoder) and returns the count.
func ffprobeFrames(t *testing.T, data []byte) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v.mp4")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,nb_read_frames", "-of", "default=noprint_wrappers=1", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var n int
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "nb_read_frames="); ok {
			_, _ = fmt.Sscan(v, &n)
		}
	}
	if !strings.Contains(string(out), "codec_name=h264") {
		t.Fatalf("ffprobe: not H.264: %s", out)
	}
	return n
}

// Issue 12 finding 4 (R12, R17): an export download checks the grant
// before sending a byte. Before revocation the file downloads and plays;
// after it, every part is 403 JSON with one denied audit record citing
// the grant.
func TestR17ExportDownloadAfterRevoke(t *testing.T) {
	f := newExportFixture(t)
	e, op := f.e, f.tm.cookies["operator"]
	resp := e.do("GET", "/api/v1/exports/"+f.xid+"/mp4", "", "", op)
	b := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("download before revoke: %d %s", resp.StatusCode, b)
	}
	if n := ffprobeFrames(t, b); n < 10 {
		t.Fatalf("ffprobe decoded %d frames of the export", n)
	}
	e.must(200, "POST", "/api/v1/grants/"+f.grant.ID+"/revoke", reasonRequest{Reason: "case closed"}, f.tm.cookies["approver"], nil)
	for _, part := range []string{"mp4", "manifest"} {
		seq := e.head()
		msg := jsonError(t, e.do("GET", "/api/v1/exports/"+f.xid+"/"+part, "", "", op), 403)
		if !strings.Contains(msg, f.grant.ID) {
			t.Errorf("%s after revoke: message %q does not name the grant", part, msg)
		}
		if d := e.deniedFor(seq, f.grant.ID); len(d) != 1 {
			t.Errorf("%s after revoke: %d denied audit records citing the grant, want 1: %+v", part, len(d), d)
		}
	}
}

// Issue 12 finding 4 (R12, R17): the same after the grant's validity has
// run out (the policy clock moved past it).
func TestR17ExportDownloadAfterExpiry(t *testing.T) {
	f := newExportFixture(t)
	e, op := f.e, f.tm.cookies["operator"]
	e.must(200, "GET", "/api/v1/exports/"+f.xid+"/manifest", nil, op, nil)
	f.polClock.Advance(2 * time.Hour) // validity 1 h
	for _, part := range []string{"mp4", "manifest"} {
		seq := e.head()
		jsonError(t, e.do("GET", "/api/v1/exports/"+f.xid+"/"+part, "", "", op), 403)
		if d := e.deniedFor(seq, f.grant.ID); len(d) != 1 || !strings.Contains(d[0].Detail, "expired") {
			t.Errorf("%s after expiry: denied audit records citing the grant %+v, want 1 saying expired", part, d)
		}
	}
}
