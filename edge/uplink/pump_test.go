package uplink

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/policy/audit"
)

// memLog is an in-memory audit log with a real hash chain.
type memLog struct {
	mu   sync.Mutex
	recs []audit.Record
	fail int // AuditAfter fails this many more times
}

func (l *memLog) add(t *testing.T, e audit.Record) audit.Record {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = uint64(len(l.recs) + 1)
	e.Time = time.Unix(1_800_000_000, int64(e.Seq)).UnixNano()
	if e.Result == "" {
		e.Result = audit.ResultOK
	}
	if n := len(l.recs); n > 0 {
		h, err := audit.HashRecord(&l.recs[n-1])
		if err != nil {
			t.Fatal(err)
		}
		e.Prev = h
	}
	l.recs = append(l.recs, e)
	return e
}

func (l *memLog) AuditAfter(ctx context.Context, seq uint64, max int) ([]audit.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail > 0 {
		l.fail--
		return nil, errors.New("memlog: read failed")
	}
	var out []audit.Record
	for _, r := range l.recs {
		if r.Seq > seq && len(out) < max {
			out = append(out, r)
		}
	}
	return out, nil
}

// flakyQueue fails the first n Audit calls with a queue error (outbox
// full), then passes to the real uplink; it records every call.
type flakyQueue struct {
	*Uplink
	mu    sync.Mutex
	fails int
	calls []uint64
}

func (q *flakyQueue) Audit(ctx context.Context, a AuditRecord) error {
	q.mu.Lock()
	q.calls = append(q.calls, a.Seq)
	fail := q.fails > 0
	if fail {
		q.fails--
	}
	q.mu.Unlock()
	if fail {
		return ErrDropped
	}
	return q.Uplink.Audit(ctx, a)
}

// offlineUplink is a real uplink whose outbox we read; it never connects.
func offlineUplink(t *testing.T, dir string) *Uplink {
	t.Helper()
	u, err := New(Config{Broker: "mqtts://127.0.0.1:1", DeviceID: "gw-pump", Firmware: "1.0.0",
		OutboxPath: filepath.Join(dir, "outbox.db"), IDKey: testKey()},
		Deps{Health: fakeHealth(time.Now), Board: fixedBoard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// outboxOf decodes what the uplink put in its outbox.
func outboxOf(t *testing.T, u *Uplink) (audits []*wire.Audit, events []*wire.Event) {
	t.Helper()
	recs, err := u.ob.Next(0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		m, err := wire.Decode(r.Kind, r.Payload)
		if err != nil {
			t.Fatalf("outbox record %d: %v", r.ID, err)
		}
		switch m := m.(type) {
		case *wire.Audit:
			audits = append(audits, m)
		case *wire.Event:
			events = append(events, m)
		}
	}
	return audits, events
}

func runPump(t *testing.T, p *AuditPump, until func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !until() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("pump stuck at %d", p.Position())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func hexHash(t *testing.T, r *audit.Record) string {
	t.Helper()
	h, err := audit.HashRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h[:])
}

// R16, R24: a record the wire schema refuses, in the middle of the log,
// goes upstream as a placeholder with its seq, hash and prev (the chain
// stays linkable), is counted, raises an audit.withheld event, and the
// records after it flow. R19: a camera id recorded under a non-camera kind
// and a garbage target leave only as keyed hashes. The position survives a
// restart.
func TestPumpPlaceholderAndRestart(t *testing.T) {
	dir := t.TempDir()
	u := offlineUplink(t, dir)
	src := &memLog{}
	src.add(t, audit.Record{Actor: "device", Action: "device.start", TargetKind: audit.KindDevice})
	bad := src.add(t, audit.Record{Actor: "anonymous", Action: "Bad Action\x00with spaces", TargetKind: audit.KindDevice, Target: "x"})
	src.add(t, audit.Record{Actor: "anonymous", Action: "http.unauthenticated", TargetKind: audit.KindDevice, Target: "cam1"})
	src.add(t, audit.Record{Actor: "u-0123456789abcdef", Action: "camera.view", TargetKind: audit.KindCamera, Target: "cam1"})
	src.add(t, audit.Record{Actor: "anonymous", Action: "http.unauthenticated", TargetKind: audit.KindDevice, Target: "has space"})
	src.add(t, audit.Record{Actor: "u-0123456789abcdef", Action: "grants.approve", TargetKind: audit.KindGrant, Target: "g-0123456789abcdef0123", Grant: "g-0123456789abcdef0123"})

	cfg := PumpConfig{DataDir: dir, Poll: 5 * time.Millisecond, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond}
	p, err := NewAuditPump(cfg, PumpDeps{Source: src, Queue: u})
	if err != nil {
		t.Fatal(err)
	}
	runPump(t, p, func() bool { return p.Position() == 6 })
	if p.Withheld() != 1 {
		t.Fatalf("withheld %d, want 1", p.Withheld())
	}
	audits, events := outboxOf(t, u)
	if len(audits) != 6 {
		t.Fatalf("%d audit records queued, want 6", len(audits))
	}
	for i, a := range audits {
		if a.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, a.Seq)
		}
		if i > 0 && a.Prev != audits[i-1].Hash {
			t.Fatalf("seq %d: prev %s does not link to %s", a.Seq, a.Prev, audits[i-1].Hash)
		}
		if want := hexHash(t, &src.recs[i]); a.Hash != want {
			t.Fatalf("seq %d: hash %s, want the device's %s", a.Seq, a.Hash, want)
		}
	}
	ph := audits[1]
	if ph.Action != wire.ActionWithheld || len(ph.Targets) != 0 || len(ph.Cameras) != 0 || ph.Actor != "" || ph.Grant != "" {
		t.Fatalf("placeholder %+v", ph)
	}
	if want := hexHash(t, &bad); ph.Hash != want {
		t.Fatalf("placeholder hash %s, want %s", ph.Hash, want)
	}
	opaque := OpaqueID(testKey(), "cam1")
	if got := audits[2].Targets; len(got) != 1 || got[0] != HashedPrefix+opaque {
		t.Fatalf("device-kind target cam1 sent as %v, want %s", got, HashedPrefix+opaque)
	}
	if got := audits[3].Cameras; len(got) != 1 || got[0] != opaque {
		t.Fatalf("camera target sent as %v", got)
	}
	if got := audits[4].Targets; len(got) != 1 || !strings.HasPrefix(got[0], HashedPrefix) {
		t.Fatalf("garbage target sent as %v", got)
	}
	if a := audits[5]; a.Targets[0] != "g-0123456789abcdef0123" || a.Grant != "g-0123456789abcdef0123" || a.Actor != "u-0123456789abcdef" {
		t.Fatalf("device-generated ids must stay in clear: %+v", a)
	}
	var withheld []*wire.Event
	for _, e := range events {
		if e.Kind == wire.EvAuditWithheld {
			withheld = append(withheld, e)
		}
	}
	if len(withheld) != 1 || withheld[0].Count != 2 || withheld[0].Value != 1 || withheld[0].Sev != wire.SevWarning {
		t.Fatalf("audit.withheld events %+v", withheld)
	}
	if b, err := os.ReadFile(filepath.Join(dir, PumpFile)); err != nil || string(b) != "6\n" {
		t.Fatalf("position file %q %v", b, err)
	}

	// Restart: a new pump resumes after 6; only the new record is queued.
	src.add(t, audit.Record{Actor: "device", Action: "device.stop", TargetKind: audit.KindDevice})
	q := &flakyQueue{Uplink: u}
	p2, err := NewAuditPump(cfg, PumpDeps{Source: src, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Position() != 6 {
		t.Fatalf("restarted pump at %d, want 6", p2.Position())
	}
	runPump(t, p2, func() bool { return p2.Position() == 7 })
	if len(q.calls) != 1 || q.calls[0] != 7 {
		t.Fatalf("after restart the pump queued %v, want [7]", q.calls)
	}
	if audits, _ := outboxOf(t, u); len(audits) != 7 || audits[6].Seq != 7 {
		t.Fatalf("%d records after restart", len(audits))
	}
}

// R16: a queue error (outbox full) and a read error are retried with
// backoff: the record is queued once the queue takes it, nothing is
// skipped, and the position does not move past it meanwhile.
func TestPumpRetriesQueueErrors(t *testing.T) {
	dir := t.TempDir()
	u := offlineUplink(t, dir)
	src := &memLog{fail: 2}
	for i := 0; i < 3; i++ {
		src.add(t, audit.Record{Actor: "device", Action: "device.start", TargetKind: audit.KindDevice})
	}
	q := &flakyQueue{Uplink: u, fails: 4}
	p, err := NewAuditPump(PumpConfig{DataDir: dir, Poll: 5 * time.Millisecond, RetryMin: time.Millisecond, RetryMax: 8 * time.Millisecond},
		PumpDeps{Source: src, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	runPump(t, p, func() bool { return p.Position() == 3 })
	audits, _ := outboxOf(t, u)
	if len(audits) != 3 {
		t.Fatalf("%d records queued, want 3", len(audits))
	}
	for i, a := range audits {
		if a.Seq != uint64(i+1) || a.Action != "device.start" {
			t.Fatalf("record %d: %+v", i, a)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if want := []uint64{1, 1, 1, 1, 1, 2, 3}; len(q.calls) != len(want) {
		t.Fatalf("queue calls %v, want %v (seq 1 retried until it was taken)", q.calls, want)
	}
	if p.Withheld() != 0 {
		t.Fatalf("a queue error became a placeholder")
	}
}

// A broken position file does not stop the pump: it forwards from the
// start (duplicates carry the same seq; losing records would be worse).
func TestPumpBadPositionFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, PumpFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	u := offlineUplink(t, t.TempDir())
	src := &memLog{}
	src.add(t, audit.Record{Actor: "device", Action: "device.start", TargetKind: audit.KindDevice})
	p, err := NewAuditPump(PumpConfig{DataDir: dir, Poll: 5 * time.Millisecond}, PumpDeps{Source: src, Queue: u})
	if err != nil {
		t.Fatal(err)
	}
	runPump(t, p, func() bool { return p.Position() == 1 })
	if b, _ := os.ReadFile(filepath.Join(dir, PumpFile)); string(b) != "1\n" {
		t.Fatalf("position file %q", b)
	}
}
