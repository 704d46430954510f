package uplink

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/storage/keys"
)

// Camera ids and names that must never appear on the wire (R19).
var localCams = []string{"front-door", "lobby-east", "server-room", "parking-lot", "stairs-b", "loading-dock", "cash-desk", "back-office"}

// fakeHealth is a tracker with 8 recording cameras, one alert and storage
// figures, as the daemon would have.
func fakeHealth(now func() time.Time) *health.Tracker {
	tr := health.NewTracker("gw-test", "1.2.3", now)
	for i, id := range localCams {
		tr.SetCamera(health.Camera{
			ID: id, Name: "Camera " + strings.ToUpper(id), State: health.StateRecording, Masked: i%2 == 0,
			Width: 1920, Height: 1080, FPS: 15, Kbps: 2048.4, Frames: 1000, LastFrame: now().Add(-40 * time.Millisecond),
			Gaps: uint64(i), Image: health.ImageFlags(i % 3),
		})
	}
	tr.SetStorage(health.Storage{
		RingBytes: 64 << 30, UsedBytes: 40 << 30, Segments: 1234, Oldest: now().Add(-20 * 24 * time.Hour),
		Horizon: 25 * 24 * time.Hour, HorizonFloor: 30 * 24 * time.Hour, Cipher: "xchacha20-poly1305",
	})
	tr.Raise("horizon", health.SevWarning, "retention horizon 25 days below floor 30 days")
	tr.Raise(health.CameraCode("camera.lost", "stairs-b"), health.SevCritical, "camera stairs-b (Camera STAIRS-B) lost")
	return tr
}

var fixedBoard = BoardFunc(func() Board {
	t, thr, l, mt, ma := int32(48312), uint32(0x50000), 0.73, uint64(3884000), uint64(2911000)
	return Board{TempMilliC: &t, Throttled: &thr, Load1: &l, MemTotalKiB: &mt, MemAvailKiB: &ma, Clock: wire.ClockSynced}
})

func testKey() []byte {
	k := sha256.Sum256([]byte("edgerec uplink test key"))
	return k[:]
}

// vaultAt is a real storage vault in <dir>/vault under a fixed test root
// key, so the helper process opens the same vault as the test.
func vaultAt(dir string) (*keys.Vault, error) {
	root := sha256.Sum256([]byte("edgerec uplink test root"))
	ks, err := keys.Open(filepath.Join(dir, "vault"), root[:], false)
	if err != nil {
		return nil, err
	}
	return ks.Vault()
}

func testVault(t testing.TB, dir string) *keys.Vault {
	t.Helper()
	v, err := vaultAt(dir)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func auditHead() (uint64, [32]byte) { return 42, sha256.Sum256([]byte("head")) }

// deviceConfig is a device config against the rig, with intervals
// compressed for tests: reconnect backoff 50–500 ms (a device in the field
// backs off to 60 s), down grace 1 s (2 min).
func deviceConfig(b *uplinktest.Broker, dir, device string) Config {
	return Config{
		Broker: b.URL(), CAFile: b.Certs.CA, CertFile: b.Certs.ClientCert, KeyFile: b.Certs.ClientKey,
		DeviceID: device, Firmware: "1.2.3", BeaconInterval: time.Second,
		OutboxPath: filepath.Join(dir, "outbox.db"), IDKey: testKey(),
		WatchInterval: 100 * time.Millisecond, DownGrace: time.Second,
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
		ConnectTimeout: 2 * time.Second, PacketTimeout: 3 * time.Second, FlushTimeout: 2 * time.Second,
	}
}

// startDevice runs an uplink in-process until the test ends.
func startDevice(t *testing.T, cfg Config, deps Deps) (*Uplink, context.CancelFunc) {
	t.Helper()
	if deps.Board == nil {
		deps.Board = fixedBoard
	}
	if deps.AuditHead == nil {
		deps.AuditHead = auditHead
	}
	u, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = u.Run(ctx) }()
	stop := func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return u, stop
}

// decoded is a received message, decoded.
type decoded struct {
	uplinktest.Message
	Kind wire.Kind
	Msg  wire.Message
}

func decodeAll(t *testing.T, ms []uplinktest.Message) []decoded {
	t.Helper()
	var out []decoded
	for _, m := range ms {
		k, ok := wire.KindOfTopic(m.Topic[strings.LastIndex(m.Topic, "/")+1:])
		if !ok {
			t.Fatalf("unexpected topic %q", m.Topic)
		}
		msg, err := wire.Decode(k, m.Payload)
		if err != nil {
			t.Fatalf("%s: %v", m.Topic, err)
		}
		// The last will carries no content type: paho v0.23.0 packs will
		// properties with the CONNECT rules and drops it (SCHEMA.md).
		willOK := k == wire.KindStatus && m.ContentType == "" && msg.(*wire.Status).State == wire.StateOffline
		if m.ContentType != k.ContentType() && !willOK {
			t.Fatalf("%s: content type %q", m.Topic, m.ContentType)
		}
		out = append(out, decoded{m, k, msg})
	}
	return out
}

func ofKind(ds []decoded, k wire.Kind) []decoded {
	var out []decoded
	for _, d := range ds {
		if d.Kind == k {
			out = append(out, d)
		}
	}
	return out
}

// produced is what a test produced: event/audit records by their Count/Seq
// tag, to compare with what arrived.
func testEvent(n int) Event {
	return Event{Kind: EventTamper, Code: "switch", Count: uint64(n), Value: int64(n)}
}

func testAudit(n int) AuditRecord {
	var h, p [32]byte
	binary.BigEndian.PutUint64(h[:], uint64(n))
	binary.BigEndian.PutUint64(p[:], uint64(n-1))
	return AuditRecord{Seq: uint64(n), Actor: "u-7", Action: "playback", Targets: []string{"req-" + fmt.Sprint(n)},
		Cameras: []string{localCams[n%len(localCams)]}, Grant: "g-3", OK: true, Hash: h, Prev: p}
}

// checkDelivered asserts that exactly the tags 1..n of events and audit
// records arrived, each kind in order of id, and that duplicates carry the
// same id and bytes.
func checkDelivered(t *testing.T, ds []decoded, events, audits int) {
	t.Helper()
	seenID := map[uint64][]byte{}
	var lastID uint64
	gotE, gotA := map[uint64]bool{}, map[uint64]bool{}
	for _, d := range ds {
		var id, tag uint64
		switch m := d.Msg.(type) {
		case *wire.Event:
			if m.Kind != EventTamper {
				continue
			}
			id, tag = m.ID, m.Count
			gotE[tag] = true
		case *wire.Audit:
			id, tag = m.ID, m.Seq
			gotA[tag] = true
		default:
			continue
		}
		if prev, dup := seenID[id]; dup {
			if string(prev) != string(d.Payload) {
				t.Fatalf("id %d delivered twice with different bytes", id)
			}
			continue
		}
		if id < lastID {
			t.Fatalf("out of order: id %d after %d", id, lastID)
		}
		lastID = id
		seenID[id] = d.Payload
	}
	if len(gotE) != events || len(gotA) != audits {
		t.Fatalf("delivered %d/%d events and %d/%d audit records", len(gotE), events, len(gotA), audits)
	}
	for i := 1; i <= events; i++ {
		if !gotE[uint64(i)] {
			t.Fatalf("event %d missing", i)
		}
	}
	for i := 1; i <= audits; i++ {
		if !gotA[uint64(i)] {
			t.Fatalf("audit %d missing", i)
		}
	}
}

func countTags(ms []uplinktest.Message) (events, audits int) {
	seenE, seenA := map[uint64]bool{}, map[uint64]bool{}
	for _, m := range ms {
		switch {
		case strings.HasSuffix(m.Topic, "/event"):
			if e, err := wire.Decode(wire.KindEvent, m.Payload); err == nil && e.(*wire.Event).Kind == EventTamper {
				seenE[e.(*wire.Event).Count] = true
			}
		case strings.HasSuffix(m.Topic, "/audit"):
			if a, err := wire.Decode(wire.KindAudit, m.Payload); err == nil {
				seenA[a.(*wire.Audit).Seq] = true
			}
		}
	}
	return len(seenE), len(seenA)
}

// ---------------------------------------------------------------------------
// The device as a separate process (for SIGKILL): the test binary re-execs
// itself with -test.run=TestHelperDevice and a JSON spec in the environment.

const helperEnv = "EDGEREC_UPLINK_HELPER"

type helperSpec struct {
	Config  Config
	Events  int // queue events tagged 1..Events before running
	Audits  int
	NoRun   bool // queue, print QUEUED, then block without connecting
	KeyPath string
}

// TestHelperDevice is not a test: it is the device process of the SIGKILL
// tests (it does nothing unless EDGEREC_UPLINK_HELPER is set).
func TestHelperDevice(t *testing.T) {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		t.Skip("helper process only")
	}
	var spec helperSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Println("BAD SPEC", err)
		os.Exit(3)
	}
	v, err := vaultAt(filepath.Dir(spec.KeyPath))
	if err != nil {
		fmt.Println("VAULT", err)
		os.Exit(3)
	}
	key, err := LoadOrCreateKey(spec.KeyPath, v)
	if err != nil {
		fmt.Println("KEY", err)
		os.Exit(3)
	}
	spec.Config.IDKey = key
	tr := fakeHealth(time.Now)
	u, err := New(spec.Config, Deps{Health: tr, Alerts: tr, Board: fixedBoard, AuditHead: auditHead})
	if err != nil {
		fmt.Println("NEW", err)
		os.Exit(3)
	}
	ctx := context.Background()
	for i := 1; i <= max(spec.Events, spec.Audits); i++ {
		if i <= spec.Events {
			if err := u.Event(ctx, testEvent(i)); err != nil {
				fmt.Println("EVENT", err)
				os.Exit(3)
			}
		}
		if i <= spec.Audits {
			if err := u.Audit(ctx, testAudit(i)); err != nil {
				fmt.Println("AUDIT", err)
				os.Exit(3)
			}
		}
	}
	fmt.Printf("QUEUED %d %d\n", spec.Events, spec.Audits)
	if spec.NoRun {
		select {}
	}
	_ = u.Run(ctx)
}

// helper is a running device process.
type helper struct {
	cmd   *exec.Cmd
	lines chan string
}

func startHelper(t *testing.T, spec helperSpec) *helper {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDevice$", "-test.v=false")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(h.kill)
	return h
}

func (h *helper) waitLine(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-h.lines:
			if !ok {
				t.Fatalf("device process exited before %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
			if strings.HasPrefix(l, "NEW") || strings.HasPrefix(l, "EVENT") || strings.HasPrefix(l, "AUDIT") || strings.HasPrefix(l, "KEY") {
				t.Fatalf("device process: %s", l)
			}
		case <-deadline:
			t.Fatalf("device process: no %q within %s", prefix, timeout)
		}
	}
}

// kill SIGKILLs the device process (no clean shutdown, no DISCONNECT).
func (h *helper) kill() {
	if h.cmd.ProcessState != nil {
		return
	}
	_ = h.cmd.Process.Kill()
	_ = h.cmd.Wait()
}
