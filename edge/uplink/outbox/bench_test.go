package outbox

import (
	"path/filepath"
	"testing"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// BenchmarkAppend: one fsynced append of a ~200-byte event per op
// (messages/s = 1e9 / ns/op).
func BenchmarkAppend(b *testing.B) {
	o := open(b, filepath.Join(b.TempDir(), "o.db"), Options{MaxBytes: 1 << 30})
	defer o.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Append(wire.KindEvent, payload("event", 200)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDrain: read in windows of 32 and remove in acknowledged batches
// of 64, as the publisher does (without the network).
func BenchmarkDrain(b *testing.B) {
	o := open(b, filepath.Join(b.TempDir(), "o.db"), Options{MaxBytes: 1 << 30})
	defer o.Close()
	for range b.N {
		if _, err := o.Append(wire.KindEvent, payload("event", 200)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var after uint64
	var acks []uint64
	for {
		rs, err := o.Next(after, 32)
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			acks, after = append(acks, r.ID), r.ID
			if len(acks) == 64 {
				if err := o.Ack(acks...); err != nil {
					b.Fatal(err)
				}
				acks = acks[:0]
			}
		}
	}
	if err := o.Ack(acks...); err != nil {
		b.Fatal(err)
	}
	if o.Stats().Count != 0 {
		b.Fatal("not drained")
	}
}
