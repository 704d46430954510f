package jobs

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/users"
	"github.com/edgerec/edgerec/storage"
)

// A 64×64 baseline SPS and PPS (x264); slices are filler: the muxer copies
// access units without decoding them.
var (
	sps = []byte{0x67, 0x42, 0xc0, 0x0a, 0xd9, 0x04, 0x26, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x78, 0x3c, 0x48, 0x99, 0x20}
	pps = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
	t0  = time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
)

func au(key bool, i int) []byte {
	sc := []byte{0, 0, 0, 1}
	var b []byte
	if key {
		b = append(append(append(b, sc...), sps...), append(sc, pps...)...)
		b = append(append(b, sc...), 0x65, 0x88, 0x84, byte(i), 0x7c)
	} else {
		b = append(append(b, sc...), 0x41, 0x9a, byte(i), 0x21, 0x6c)
	}
	return b
}

// memStore is footage of camera "cam1": 15 fps from t0 for 6 s, a
// keyframe every second. gate, if set, holds ReadFrames until closed.
type memStore struct {
	frames []storage.Frame
	gate   chan struct{}
}

func newMemStore() *memStore {
	s := &memStore{}
	for i := 0; i < 90; i++ {
		s.frames = append(s.frames, storage.Frame{Time: t0.Add(time.Duration(i) * time.Second / 15), Key: i%15 == 0, Data: au(i%15 == 0, i)})
	}
	return s
}

func (s *memStore) Coverage(ctx context.Context, camera string, from, to time.Time) ([]storage.Span, error) {
	end := s.frames[len(s.frames)-1].Time.Add(time.Second / 15)
	if camera != "cam1" || !from.Before(end) || !to.After(t0) {
		return nil, nil
	}
	return []storage.Span{{From: maxTime(from, t0), To: minTime(to, end)}}, nil
}

func (s *memStore) ReadFrames(ctx context.Context, camera string, from, to time.Time, fn func(storage.Frame) error) error {
	if s.gate != nil {
		<-s.gate
	}
	start := 0
	for i, f := range s.frames {
		if f.Key && !f.Time.After(from) {
			start = i
		}
	}
	for _, f := range s.frames[start:] {
		if !f.Time.Before(to) {
			break
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// fakePolicy holds grant "g-1" of "oscar" (requested by oscar, approved
// by bob and carol) and an audit log.
type fakePolicy struct {
	mu     sync.Mutex
	refuse error
	uses   []string
	log    []audit.Record
}

func (p *fakePolicy) UseGrant(ctx context.Context, id, actorID, action, camera string, from, to time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.uses = append(p.uses, strings.Join([]string{id, actorID, action, camera, from.Format(time.RFC3339), to.Format(time.RFC3339)}, "|"))
	res := audit.ResultOK
	if p.refuse != nil {
		res = audit.ResultDenied
	}
	p.log = append(p.log, audit.Record{Seq: uint64(len(p.log) + 1), Actor: actorID, Action: "grant.use." + action, Grant: id, Result: res})
	return p.refuse
}

func (p *fakePolicy) Grant(ctx context.Context, id string) (grants.Grant, error) {
	return grants.Grant{ID: id, Requester: "u-oscar", Approvals: []grants.Approval{{By: "u-bob"}, {By: "u-carol"}}}, nil
}

func (p *fakePolicy) Users(ctx context.Context) ([]users.User, error) {
	return []users.User{{ID: "u-oscar", Name: "oscar"}, {ID: "u-bob", Name: "bob"}, {ID: "u-carol", Name: "carol"}}, nil
}

func (p *fakePolicy) Audit(ctx context.Context, e audit.Event) (audit.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := audit.Record{Seq: uint64(len(p.log) + 1), Actor: e.Actor, Action: e.Action, Target: e.Target, Grant: e.Grant, Result: e.Result, Detail: e.Detail}
	p.log = append(p.log, r)
	return r, nil
}

func (p *fakePolicy) records(action string) []audit.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []audit.Record
	for _, r := range p.log {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

type fakeDevice struct{ key ed25519.PrivateKey }

func (d fakeDevice) Subject(camera string) export.Subject {
	return export.Subject{Device: "gw-1", CameraName: "Lobby", OpaqueCameraID: "c-opaque"}
}

func (d fakeDevice) SigningKey() (ed25519.PrivateKey, error) {
	return append(ed25519.PrivateKey(nil), d.key...), nil
}

type rig struct {
	dir   string
	store *memStore
	pol   *fakePolicy
	dev   fakeDevice
	r     *Runner
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	g := &rig{dir: filepath.Join(t.TempDir(), "exports"), store: newMemStore(), pol: &fakePolicy{}, dev: fakeDevice{key: key}}
	g.start(t, cfg)
	return g
}

func (g *rig) start(t *testing.T, cfg Config) {
	t.Helper()
	cfg.Dir = g.dir
	r, err := New(cfg, Deps{Store: g.store, Policy: g.pol, Device: g.dev})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	g.r = r
}

var req = Request{Grant: "g-1", Camera: "cam1", From: t0.Add(1500 * time.Millisecond), To: t0.Add(4 * time.Second), By: "u-oscar"}

func (g *rig) export(t *testing.T) Status {
	t.Helper()
	st, err := g.r.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	g.r.Wait()
	st, err = g.r.Status(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (g *rig) read(t *testing.T, id, part string) ([]byte, error) {
	t.Helper()
	rc, n, err := g.r.Open(context.Background(), id, part)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err == nil && int64(len(b)) != n {
		t.Fatalf("%s: read %d bytes, size %d", part, len(b), n)
	}
	return b, err
}

// R17, issue 15: the runner makes the export with the real grant check
// (the exporter's own grant, this camera and range), the manifest names
// every approver and cites the export's own audit record, the file on the
// device is sealed (no SPS in it) and the download verifies against the
// manifest.
func TestR17RunnerSignedSealedExport(t *testing.T) {
	g := newRig(t, Config{})
	st := g.export(t)
	if st.State != "done" || st.Progress != 1 || st.Bytes <= 0 {
		t.Fatalf("export: %+v", st)
	}
	want := "g-1|u-oscar|" + grants.Export + "|cam1|" + req.From.Format(time.RFC3339) + "|" + req.To.Format(time.RFC3339)
	if len(g.pol.uses) != 1 || g.pol.uses[0] != want {
		t.Fatalf("grant uses %q, want %q", g.pol.uses, want)
	}
	raw, err := os.ReadFile(filepath.Join(g.dir, st.ID+".mp4.sealed"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, sps) || bytes.Contains(raw, []byte("ftyp")) {
		t.Fatal("the export file on the device holds clear video")
	}
	mp4, err := g.read(t, st.ID, "mp4")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(mp4, sps) || int64(len(mp4)) != st.Bytes {
		t.Fatalf("download: %d bytes, status says %d", len(mp4), st.Bytes)
	}
	doc, err := g.read(t, st.ID, "manifest")
	if err != nil {
		t.Fatal(err)
	}
	m, err := export.Verify(doc, bytes.NewReader(mp4), export.WithDeviceKey(g.dev.key.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	ok := g.pol.records(export.AuditAction)
	if len(ok) != 1 || ok[0].Result != audit.ResultOK || ok[0].Detail != "sha256 "+m.File.SHA256 {
		t.Fatalf("export audit records %+v", ok)
	}
	if m.AuditSeq != ok[0].Seq || m.Approver != "bob, carol" || m.Requester != "oscar" || m.Exporter != "oscar" ||
		m.Device != "gw-1" || m.Camera.Name != "Lobby" || m.Camera.ID != "c-opaque" || m.File.Name != st.ID+".mp4" || !m.Start.Equal(t0.Add(time.Second)) {
		t.Fatalf("manifest %+v (export record #%d)", m, ok[0].Seq)
	}
	if _, err := g.read(t, st.ID, "thumbnail"); !errors.Is(err, ErrBadPart) {
		t.Fatalf("unknown part: %v", err)
	}
	if _, err := g.r.Status(context.Background(), "x-0000000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown export: %v", err)
	}
}

// R12, R17: a grant the policy refuses (revoked between the page's check
// and the job) fails the export: nothing stays on disk, the refusal is
// audited.
func TestR17RunnerGrantRefused(t *testing.T) {
	g := newRig(t, Config{})
	g.pol.refuse = errors.New("grant revoked")
	st := g.export(t)
	if st.State != "failed" || !strings.Contains(st.Error, "grant revoked") {
		t.Fatalf("refused export: %+v", st)
	}
	if ms, _ := filepath.Glob(filepath.Join(g.dir, "*")); len(ms) > 0 {
		t.Fatalf("refused export left %v", ms)
	}
	if rs := g.pol.records(export.AuditAction); len(rs) != 1 || rs[0].Result != "refused" || rs[0].Detail != "not authorized" {
		t.Fatalf("refusal audit %+v", rs)
	}
	if _, err := g.read(t, st.ID, "mp4"); !errors.Is(err, ErrNotReady) {
		t.Fatalf("download of a failed export: %v", err)
	}
}

// Issue 13, R17: a changed byte in the sealed file: one clear error
// before anything is sent; the export is failed and its file erased.
func TestR17RunnerTamperedFileErased(t *testing.T) {
	g := newRig(t, Config{})
	st := g.export(t)
	p := filepath.Join(g.dir, st.ID+".mp4.sealed")
	raw, _ := os.ReadFile(p)
	raw[len(raw)/2] ^= 0x04
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := g.read(t, st.ID, "mp4"); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "erased") {
		t.Fatalf("tampered download: %v", err)
	}
	st, _ = g.r.Status(context.Background(), st.ID)
	if st.State != "failed" || st.Error != MsgTampered {
		t.Fatalf("tampered export listed as %s %q", st.State, st.Error)
	}
	if _, err := os.Stat(p); err == nil {
		t.Fatal("tampered file kept")
	}
}

// Issue 13: a finished export is erased after Keep (key first), and a
// download in flight stops when the key is destroyed.
func TestR17RunnerExpiry(t *testing.T) {
	g := newRig(t, Config{Keep: 300 * time.Millisecond})
	st := g.export(t)
	rc, _, err := g.r.Open(context.Background(), st.ID, "mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	time.Sleep(600 * time.Millisecond)
	if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "destroyed") {
		t.Fatalf("download after expiry: %v", err)
	}
	st, _ = g.r.Status(context.Background(), st.ID)
	if st.State != "expired" || st.Error != MsgExpired {
		t.Fatalf("after Keep: %s %q", st.State, st.Error)
	}
	if ms, _ := filepath.Glob(filepath.Join(g.dir, "*")); len(ms) > 0 {
		t.Fatalf("expired export left %v", ms)
	}
}

// Issue 13: Close erases the files and keeps the job record; the next
// start lists the export as expired by the restart and empties the
// directory (also of files a power loss left behind).
func TestR17RunnerRestart(t *testing.T) {
	g := newRig(t, Config{})
	st := g.export(t)
	keep, _ := os.ReadFile(filepath.Join(g.dir, st.ID+".mp4.sealed"))
	g.r.Close()
	if ms, _ := filepath.Glob(filepath.Join(g.dir, "*")); len(ms) != 1 || !strings.HasSuffix(ms[0], ".job.json") {
		t.Fatalf("after Close: %v", ms)
	}
	if err := os.WriteFile(filepath.Join(g.dir, st.ID+".mp4.sealed"), keep, 0o600); err != nil { // power loss
		t.Fatal(err)
	}
	g.start(t, Config{})
	if ms, _ := filepath.Glob(filepath.Join(g.dir, "*")); len(ms) > 0 {
		t.Fatalf("start kept %v", ms)
	}
	list, _ := g.r.List(context.Background())
	if len(list) != 1 || list[0].ID != st.ID || list[0].State != "expired" || list[0].Error != MsgRestarted {
		t.Fatalf("after restart: %+v", list)
	}
	if _, err := g.read(t, st.ID, "mp4"); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "restarted") {
		t.Fatalf("download after restart: %v", err)
	}
}

// One export at a time; a closed runner starts none.
func TestRunnerOneAtATime(t *testing.T) {
	g := newRig(t, Config{})
	g.store.gate = make(chan struct{})
	first, err := g.r.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.r.Start(context.Background(), req); !errors.Is(err, ErrBusy) {
		t.Fatalf("second export while one runs: %v", err)
	}
	close(g.store.gate)
	g.r.Wait()
	if st, _ := g.r.Status(context.Background(), first.ID); st.State != "done" {
		t.Fatalf("first export: %+v", st)
	}
	g.r.Close()
	if _, err := g.r.Start(context.Background(), req); !errors.Is(err, ErrBusy) {
		t.Fatalf("start after Close: %v", err)
	}
}
