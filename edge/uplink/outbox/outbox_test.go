package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// payload makes a recognisable payload that embeds the id.
func payload(tag string, n int) func(id uint64) ([]byte, error) {
	return func(id uint64) ([]byte, error) {
		b := []byte(fmt.Sprintf("%s#%d:", tag, id))
		return append(b, bytes.Repeat([]byte{'x'}, n)...), nil
	}
}

func overflowPayload(lost *[]Lost) func(uint64, Lost) ([]byte, error) {
	return func(id uint64, l Lost) ([]byte, error) {
		*lost = append(*lost, l)
		return []byte(fmt.Sprintf("overflow#%d:%d/%d/%d", id, l.Beacons, l.Events, l.Audit)), nil
	}
}

func open(t testing.TB, path string, opt Options) *Outbox {
	t.Helper()
	if opt.Overflow == nil {
		var l []Lost
		opt.Overflow = overflowPayload(&l)
	}
	o, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func drain(t *testing.T, o *Outbox) []Record {
	t.Helper()
	var all []Record
	after := uint64(0)
	for {
		rs, err := o.Next(after, 16)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			return all
		}
		all = append(all, rs...)
		after = rs[len(rs)-1].ID
	}
}

// Everything is written first, read back in order, removed on ack, and
// survives a reopen (restart).
func TestOrderAckAndRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, Options{})
	var ids []uint64
	for i := range 10 {
		k := wire.KindEvent
		if i%3 == 0 {
			k = wire.KindAudit
		}
		id, err := o.Append(k, payload(k.String(), 10))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rs := drain(t, o)
	if len(rs) != 10 {
		t.Fatalf("got %d records", len(rs))
	}
	for i, r := range rs {
		if r.ID != ids[i] || !bytes.HasPrefix(r.Payload, fmt.Appendf(nil, "%s#%d:", r.Kind, r.ID)) {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if err := o.Ack(ids[:4]...); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = open(t, path, Options{})
	defer o.Close()
	rs = drain(t, o)
	if len(rs) != 6 || rs[0].ID != ids[4] {
		t.Fatalf("after restart: %d records, first %d", len(rs), rs[0].ID)
	}
	id, err := o.Append(wire.KindEvent, payload("event", 1))
	if err != nil || id <= ids[9] {
		t.Fatalf("ids must keep increasing across restarts: %d after %d (%v)", id, ids[9], err)
	}
	st := o.Stats()
	if st.Count != 7 || st.Bytes <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Beacons coalesce to the latest, except one that is in flight.
func TestBeaconCoalesce(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "o.db"), Options{})
	defer o.Close()
	for range 5 {
		if _, err := o.Append(wire.KindBeacon, payload("beacon", 100)); err != nil {
			t.Fatal(err)
		}
	}
	rs, _ := o.Next(0, 10) // marks the one beacon in flight
	if len(rs) != 1 {
		t.Fatalf("want 1 queued beacon, got %d", len(rs))
	}
	id2, _ := o.Append(wire.KindBeacon, payload("beacon", 100))
	id3, _ := o.Append(wire.KindBeacon, payload("beacon", 100))
	o.Release()
	rs = drain(t, o)
	if len(rs) != 2 || rs[0].ID != rs[0].ID || rs[1].ID != id3 || id2 == id3 {
		t.Fatalf("in-flight beacon must stay, newer ones coalesce: %+v", rs)
	}
}

// Bounded size: beacons go first, then the oldest events, then audit; an
// overflow event says what was lost; nothing that fits is lost.
func TestOverflowPolicy(t *testing.T) {
	var lost []Lost
	o := open(t, filepath.Join(t.TempDir(), "o.db"), Options{MaxBytes: 8 << 10, Overflow: overflowPayload(&lost)})
	defer o.Close()
	if _, err := o.Append(wire.KindBeacon, payload("beacon", 200)); err != nil {
		t.Fatal(err)
	}
	var audits, events []uint64
	for i := range 20 { // 20 × ~230 B fits in 8 KiB - reserve
		k := wire.KindEvent
		if i%2 == 0 {
			k = wire.KindAudit
		}
		id, err := o.Append(k, payload(k.String(), 200))
		if err != nil {
			t.Fatal(err)
		}
		if k == wire.KindAudit {
			audits = append(audits, id)
		} else {
			events = append(events, id)
		}
	}
	if len(lost) != 0 {
		t.Fatalf("nothing should be lost yet: %+v", lost)
	}
	// The next records no longer fit: the beacon goes, then the oldest events.
	for range 12 {
		id, err := o.Append(wire.KindAudit, payload("audit", 200))
		if err != nil {
			t.Fatal(err)
		}
		audits = append(audits, id)
	}
	if len(lost) == 0 {
		t.Fatal("no overflow event")
	}
	last := lost[len(lost)-1]
	if last.Events == 0 {
		t.Fatalf("events must go before audit: %+v", last)
	}
	rs := drain(t, o)
	var got []uint64
	ovf := 0
	for _, r := range rs {
		if bytes.HasPrefix(r.Payload, []byte("overflow#")) {
			ovf++
			continue
		}
		if r.Kind == wire.KindAudit {
			got = append(got, r.ID)
		}
		if r.Kind == wire.KindBeacon {
			t.Fatal("the beacon must be dropped before any event")
		}
	}
	if ovf != 1 {
		t.Fatalf("want one merged overflow event queued, got %d", ovf)
	}
	if fmt.Sprint(got) != fmt.Sprint(audits) && last.Audit == 0 {
		t.Fatalf("audit records lost while events remained: %v vs %v", got, audits)
	}
	st := o.Stats()
	if st.Bytes > st.MaxBytes {
		t.Fatalf("size %d over bound %d", st.Bytes, st.MaxBytes)
	}
	// A beacon never displaces events.
	before := o.Stats().Count
	if _, err := o.Append(wire.KindBeacon, payload("beacon", 1000)); !errors.Is(err, ErrFull) {
		t.Fatalf("beacon into a full outbox: %v", err)
	}
	if o.Stats().Count != before {
		t.Fatal("a beacon displaced events")
	}
}

// Disk full / write errors: records are held in memory in order, Append says
// so, and they are written first when the disk works again.
func TestWriteFaultSpill(t *testing.T) {
	var fail atomic.Bool
	o := open(t, filepath.Join(t.TempDir(), "o.db"), Options{WriteFault: func() error {
		if fail.Load() {
			return errors.New("no space left on device")
		}
		return nil
	}})
	defer o.Close()
	a, _ := o.Append(wire.KindEvent, payload("event", 1))
	fail.Store(true)
	for range 3 {
		if _, err := o.Append(wire.KindAudit, payload("audit", 1)); !errors.Is(err, ErrNotDurable) {
			t.Fatalf("want ErrNotDurable, got %v", err)
		}
	}
	if o.WriteErr() == nil || o.Stats().Spilled != 3 {
		t.Fatalf("write error not reported: %v %+v", o.WriteErr(), o.Stats())
	}
	fail.Store(false)
	b, err := o.Append(wire.KindEvent, payload("event", 1))
	if err != nil {
		t.Fatal(err)
	}
	rs := drain(t, o)
	if len(rs) != 5 || rs[0].ID != a || rs[4].ID != b || rs[1].Kind != wire.KindAudit || o.WriteErr() != nil {
		t.Fatalf("spill not written in order: %+v", rs)
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	k, v, err := EncodeRecord(Record{ID: 7, Kind: wire.KindEvent, Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := DecodeRecord(k, v); err != nil || r.ID != 7 || string(r.Payload) != "x" {
		t.Fatalf("%+v %v", r, err)
	}
	for _, bad := range [][2][]byte{{k[:7], v}, {k, v[:len(v)-1]}, {k, append(v, 0)}} {
		if _, err := DecodeRecord(bad[0], bad[1]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("want ErrCorrupt, got %v", err)
		}
	}
	_, v, _ = EncodeRecord(Record{ID: 1, Kind: wire.KindStatus})
	if _, err := DecodeRecord(k, v); !errors.Is(err, ErrCorrupt) {
		t.Fatal("status records must not be stored")
	}
}

// FuzzDecodeRecord: no input panics; what decodes re-encodes to the same record.
func FuzzDecodeRecord(f *testing.F) {
	k, v, _ := EncodeRecord(Record{ID: 1, Kind: wire.KindAudit, Payload: []byte("payload")})
	f.Add(k, v)
	f.Fuzz(func(t *testing.T, k, v []byte) {
		r, err := DecodeRecord(k, v)
		if err != nil {
			return
		}
		k2, v2, err := EncodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeRecord(k2, v2)
		if err != nil || r2.ID != r.ID || r2.Kind != r.Kind || !bytes.Equal(r2.Payload, r.Payload) {
			t.Fatalf("round trip: %+v %+v %v", r, r2, err)
		}
	})
}
