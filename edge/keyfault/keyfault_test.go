package keyfault

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type kpLEDPin struct {
	gpiotest.Pin
	mu       sync.Mutex
	switches int
	last     gpio.Level
}

func (p *kpLEDPin) Out(l gpio.Level) error {
	p.mu.Lock()
	if l != p.last {
		p.switches++
	}
	p.last = l
	p.mu.Unlock()
	return p.Pin.Out(l)
}

// Issue 13, R24: with a status LED configured, a start without the root
// key shows the fault pattern (fast blink) until the hold ends, then exits
// non-zero with one ERROR line; the refusal is noted for the next start.
func TestKeyFaultShowsFaultLED(t *testing.T) {
	data := t.TempDir()
	if err := storage.Provision(context.Background(), data, storage.ProvisionOptions{RingSize: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	led := &kpLEDPin{Pin: gpiotest.Pin{N: "GPIO17", Num: 17}}
	cfg := Config{DataDir: data, StatusLED: "GPIO17", Hold: 900 * time.Millisecond,
		Lookup: func(n string) (gpio.PinIO, error) {
			if n == "GPIO17" {
				return led, nil
			}
			return nil, nil
		}}
	var logs syncBuf
	start := time.Now()
	err := Refuse(context.Background(), cfg, storage.ErrKeyUnavailable, slog.New(slog.NewTextHandler(&logs, nil)))
	held := time.Since(start)
	if err == nil || !keyprov.IsFault(err) {
		t.Fatalf("err %v", err)
	}
	if held < 800*time.Millisecond {
		t.Fatalf("exited after %s, before the fault hold", held)
	}
	led.mu.Lock()
	sw := led.switches
	led.mu.Unlock()
	// 100 ms on, 100 ms off: about 9 switches in 900 ms.
	if sw < 5 {
		t.Fatalf("LED switched %d times in %s: not the fault blink", sw, held)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "root key") || !strings.Contains(logs.String(), "provider=file") || !strings.Contains(logs.String(), "fault_led=GPIO17") {
		t.Fatalf("log:\n%s", logs.String())
	}
	if rec, ok := keyprov.ReadFault(data); !ok || rec.Count != 1 || rec.Provider != "file" {
		t.Fatalf("record %+v %v", rec, ok)
	}
	// A garbled record still counts as one refusal and is reported, not a crash.
	if err := os.WriteFile(filepath.Join(data, keyprov.FaultFile), []byte("\x00garbage{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rec, ok := keyprov.ReadFault(data); !ok || rec.Count != 1 || rec.Provider != "unknown" || rec.First.IsZero() {
		t.Fatalf("garbled record %+v %v", rec, ok)
	}
}

type queue []uplink.Event

func (q *queue) Event(_ context.Context, e uplink.Event) error { *q = append(*q, e); return nil }

// Issue 13: the next start with the key audits the refusals, sends one
// keys.unavailable event (count, first and last) and removes the record;
// without a record it does nothing.
func TestReportOnce(t *testing.T) {
	data := t.TempDir()
	t1 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := keyprov.NoteFault(data, "tpm2", storage.ErrKeyUnavailable, t1.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var audits []audit.Event
	q := &queue{}
	deps := ReportDeps{Upstream: q, Audit: func(_ context.Context, e audit.Event) { audits = append(audits, e) }}
	Report(context.Background(), data, deps)
	if len(audits) != 1 || audits[0].Result != "refused" || !strings.Contains(audits[0].Detail, "3 start(s)") || !strings.Contains(audits[0].Detail, "tpm2") {
		t.Fatalf("audit %+v", audits)
	}
	if len(*q) != 1 || (*q)[0].Kind != uplink.EventKeysUnavailable || (*q)[0].Count != 3 || (*q)[0].Code != "tpm2" ||
		!(*q)[0].Time.Equal(t1) || (*q)[0].Value != t1.Add(2*time.Minute).UnixMilli() {
		t.Fatalf("event %+v", *q)
	}
	if _, ok := keyprov.ReadFault(data); ok {
		t.Fatal("the record was not removed")
	}
	Report(context.Background(), data, ReportDeps{Audit: func(context.Context, audit.Event) { t.Fatal("reported twice") }})
}
