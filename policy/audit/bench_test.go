package audit

import (
	"context"
	bolt "go.etcd.io/bbolt"
	"testing"
	"time"
)

// BenchmarkAppendSerial: one record per commit (one fsync each).
func BenchmarkAppendSerial(b *testing.B) {
	f := newFixture(b, Config{})
	f.db.NoSync = false
	f.db.MaxBatchDelay = 2 * time.Millisecond // as policy.Open sets it
	e := Event{Actor: "u-1", Action: "view", TargetKind: KindCamera, Target: "cam-1", Result: ResultOK, Detail: "live view"}
	start := time.Now()
	for b.Loop() {
		if _, err := f.log.Append(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkAppendBatched: concurrent appenders share commits (bolt Batch:
// fsync batching).
func BenchmarkAppendBatched(b *testing.B) {
	f := newFixture(b, Config{})
	f.db.NoSync = false
	f.db.MaxBatchDelay = 2 * time.Millisecond
	e := Event{Actor: "u-1", Action: "view", TargetKind: KindCamera, Target: "cam-1", Result: ResultOK, Detail: "live view"}
	b.SetParallelism(32)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.log.Append(context.Background(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkVerify: full verification from genesis of a 20 000-record log.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, Config{})
	const n = 20000
	e := Event{Actor: "u-1", Action: "view", TargetKind: KindCamera, Target: "cam-1", Result: ResultOK, Detail: "live view"}
	if err := f.db.Update(func(tx *bolt.Tx) error {
		for range n {
			if _, err := f.log.AppendTx(tx, e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for b.Loop() {
		if r := f.verify(b, VerifyOptions{}); !r.OK() || r.Records != n {
			b.Fatal(r)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "records/s")
}
