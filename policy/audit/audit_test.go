package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type fixture struct {
	path string
	db   *bolt.DB
	log  *Log
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(Init); err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	clk := &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	db.NoSync = true // tests; benchmarks turn fsync back on
	f := &fixture{path: path, db: db, pub: pub, priv: priv, log: New(db, priv, cfg, clk.Now, nil)}
	t.Cleanup(func() { f.db.Close() })
	return f
}

func (f *fixture) fill(t testing.TB, n int) {
	t.Helper()
	for i := range n {
		// One commit per record, as Append (without its batching delay).
		if err := f.db.Update(func(tx *bolt.Tx) error {
			_, err := f.log.AppendTx(tx, Event{Actor: "u-1", Action: "login", TargetKind: KindUser,
				Target: "u-1", Result: ResultOK, Detail: fmt.Sprintf("record-%04d", i+1)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) verify(t testing.TB, o VerifyOptions) Report {
	t.Helper()
	r, err := Verify(context.Background(), f.db, f.pub, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// edit runs fn on the audit buckets directly, as an attacker with write
// access to the bbolt file would.
func (f *fixture) edit(t testing.TB, fn func(recs, ck, meta *bolt.Bucket)) {
	t.Helper()
	if err := f.db.Update(func(tx *bolt.Tx) error {
		fn(tx.Bucket(bucketRecords), tx.Bucket(bucketCheckpoints), tx.Bucket(bucketMeta))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestR16AppendVerifyHead(t *testing.T) {
	f := newFixture(t, Config{CheckpointEvery: 10})
	if seq, h := f.log.Head(); seq != 0 || h != ([32]byte{}) {
		t.Fatal("empty head")
	}
	if r := f.verify(t, VerifyOptions{}); !r.OK() {
		t.Fatalf("empty log: %s", r)
	}
	f.fill(t, 25)
	r := f.verify(t, VerifyOptions{})
	seq, h := f.log.Head()
	if !r.OK() || r.Records != 25 || r.HeadSeq != 25 || seq != 25 || h != r.HeadHash {
		t.Fatalf("%s; head %d", r, seq)
	}
	if r.Checkpoints != 3 { // 1, 10, 20
		t.Errorf("checkpoints = %d, want 3", r.Checkpoints)
	}
	if !strings.Contains(r.String(), "ok") {
		t.Error(r.String())
	}
	// Verify from a checkpoint.
	r = f.verify(t, VerifyOptions{FromCheckpoint: 20})
	if !r.OK() || r.Records != 6 || r.From != 20 {
		t.Fatalf("from checkpoint: %s", r)
	}
	if r := f.verify(t, VerifyOptions{FromCheckpoint: 7}); r.OK() {
		t.Fatal("verify from a non-checkpoint succeeded")
	}
	// After: in order, from a seq, bounded.
	got, err := f.log.After(context.Background(), 20, 3)
	if err != nil || len(got) != 3 || got[0].Seq != 21 || got[2].Seq != 23 || got[0].Actor != "u-1" {
		t.Fatalf("After: %v %+v", err, got)
	}
	got, _ = f.log.After(context.Background(), 25, 10)
	if len(got) != 0 {
		t.Fatal("After head returned records")
	}
}

func TestR16CheckpointByTime(t *testing.T) {
	f := newFixture(t, Config{CheckpointEvery: 1 << 40, CheckpointInterval: 3 * time.Second})
	f.fill(t, 10)                                                         // clock ticks 1 s per Now
	if r := f.verify(t, VerifyOptions{}); !r.OK() || r.Checkpoints != 4 { // 1, 4, 7, 10
		t.Fatalf("%s checkpoints %d", r, r.Checkpoints)
	}
}

func TestR16BadEvent(t *testing.T) {
	f := newFixture(t, Config{})
	for _, e := range []Event{{}, {Actor: "a", Action: "x"}, {Actor: "a", Action: "x", Result: "ok", Detail: strings.Repeat("d", 5000)},
		{Actor: "a\xff", Action: "x", Result: "ok"}} {
		if _, err := f.log.Append(context.Background(), e); err == nil {
			t.Errorf("Append(%+v) accepted", e)
		}
	}
	if seq, _ := f.log.Head(); seq != 0 {
		t.Fatal("a bad event was written")
	}
}

func recAt(t testing.TB, recs *bolt.Bucket, seq uint64) Stored {
	var s Stored
	if _, err := s.UnmarshalMsg(recs.Get(seqKey(seq))); err != nil {
		t.Fatal(err)
	}
	return s
}

func put(recs *bolt.Bucket, seq uint64, s Stored) {
	v, _ := s.MarshalMsg(nil)
	recs.Put(seqKey(seq), v)
}

// TestR16Tamper: edit, delete, insert or reorder any record → verify fails
// at that sequence number; truncation is caught by the signed head and the
// last checkpoint.
func TestR16Tamper(t *testing.T) {
	const n = 30
	for _, k := range []uint64{1, 2, 10, 17, 29, 30} {
		cases := []struct {
			name  string
			want  uint64
			apply func(recs, ck, meta *bolt.Bucket)
		}{
			{"edit detail", k, func(recs, _, _ *bolt.Bucket) {
				s := recAt(t, recs, k)
				s.Rec.Detail = "nothing happened"
				put(recs, k, s)
			}},
			// A consistent record hash moves detection to the link from
			// the next record, or to the signed checkpoint/head at k.
			{"edit actor and rehash record", rehashWant(k, n), func(recs, _, _ *bolt.Bucket) {
				s := recAt(t, recs, k)
				s.Rec.Actor = "u-2"
				s.Hash, _ = HashRecord(&s.Rec)
				put(recs, k, s)
			}},
			{"raw byte flip", k, func(recs, _, _ *bolt.Bucket) {
				v := append([]byte(nil), recs.Get(seqKey(k))...)
				i := strings.Index(string(v), "record-")
				v[i+len("record-")] ^= 0x01
				recs.Put(seqKey(k), v)
			}},
			{"non-canonical encoding", k, func(recs, _, _ *bolt.Bucket) {
				v := append([]byte(nil), recs.Get(seqKey(k))...)
				recs.Put(seqKey(k), append(v, 0xc0))
			}},
			{"delete", k, func(recs, _, _ *bolt.Bucket) { recs.Delete(seqKey(k)) }},
			{"insert a copy (shift the rest)", k, func(recs, _, _ *bolt.Bucket) {
				src := append([]byte(nil), recs.Get(seqKey(max(k-1, 1)+0))...)
				if k == 1 {
					src = append([]byte(nil), recs.Get(seqKey(5))...)
				}
				for s := uint64(n); s >= k; s-- {
					recs.Put(seqKey(s+1), append([]byte(nil), recs.Get(seqKey(s))...))
				}
				recs.Put(seqKey(k), src)
			}},
		}
		if k < n {
			cases = append(cases, struct {
				name  string
				want  uint64
				apply func(recs, ck, meta *bolt.Bucket)
			}{"swap with next", k, func(recs, _, _ *bolt.Bucket) {
				a := append([]byte(nil), recs.Get(seqKey(k))...)
				b := append([]byte(nil), recs.Get(seqKey(k+1))...)
				recs.Put(seqKey(k), b)
				recs.Put(seqKey(k+1), a)
			}})
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s@%d", tc.name, k), func(t *testing.T) {
				f := newFixture(t, Config{CheckpointEvery: 10})
				f.fill(t, n)
				f.edit(t, tc.apply)
				r := f.verify(t, VerifyOptions{})
				if r.OK() || r.FirstBad != tc.want {
					t.Fatalf("got %s, want failure at %d", r, tc.want)
				}
			})
		}
	}
}

func rehashWant(k, n uint64) uint64 {
	if k == 1 || k%10 == 0 || k == n {
		return k
	}
	return k + 1
}

// TestR16TamperForged: an attacker without the key who computes a correct
// record (insertion) or recomputes the whole chain after an edit is caught
// at the next record, the next signed checkpoint or the head seal.
func TestR16TamperForged(t *testing.T) {
	t.Run("forged insert", func(t *testing.T) {
		f := newFixture(t, Config{CheckpointEvery: 10})
		f.fill(t, 30)
		f.edit(t, func(recs, _, _ *bolt.Bucket) {
			prev := recAt(t, recs, 11)
			for s := uint64(30); s >= 12; s-- {
				recs.Put(seqKey(s+1), append([]byte(nil), recs.Get(seqKey(s))...))
			}
			r := Record{Seq: 12, Time: prev.Rec.Time, Actor: "u-9", Action: "noop", Result: ResultOK, Prev: prev.Hash}
			h, _ := HashRecord(&r)
			put(recs, 12, Stored{Rec: r, Hash: h})
		})
		if r := f.verify(t, VerifyOptions{}); r.OK() || r.FirstBad != 13 {
			t.Fatalf("got %s, want failure at 13 (the displaced record)", r)
		}
	})
	t.Run("edit and rechain", func(t *testing.T) {
		f := newFixture(t, Config{CheckpointEvery: 10})
		f.fill(t, 30)
		f.edit(t, func(recs, _, _ *bolt.Bucket) {
			var prev [32]byte
			for s := uint64(1); s <= 30; s++ {
				st := recAt(t, recs, s)
				if s == 13 {
					st.Rec.Result = ResultDenied
				}
				st.Rec.Prev = prev
				st.Hash, _ = HashRecord(&st.Rec)
				put(recs, s, st)
				prev = st.Hash
			}
		})
		if r := f.verify(t, VerifyOptions{}); r.OK() || r.FirstBad != 20 {
			t.Fatalf("got %s, want failure at the checkpoint 20", r)
		}
	})
	t.Run("checkpoint copied to head", func(t *testing.T) {
		f := newFixture(t, Config{CheckpointEvery: 10})
		f.fill(t, 25)
		f.edit(t, func(recs, ck, meta *bolt.Bucket) {
			for s := uint64(21); s <= 25; s++ {
				recs.Delete(seqKey(s))
			}
			meta.Put(keyHead, append([]byte(nil), ck.Get(seqKey(20))...))
		})
		if r := f.verify(t, VerifyOptions{}); r.OK() {
			t.Fatalf("checkpoint accepted as head seal: %s", r)
		}
	})
}

// TestR16Truncate: removing the tail is detected against the signed head
// and the last checkpoint, also when the head seal is deleted or replaced
// by an unsigned one.
func TestR16Truncate(t *testing.T) {
	for _, keep := range []uint64{0, 5, 19, 20, 24} {
		for _, head := range []string{"kept", "deleted", "forged"} {
			t.Run(fmt.Sprintf("keep%d-head-%s", keep, head), func(t *testing.T) {
				f := newFixture(t, Config{CheckpointEvery: 10})
				f.fill(t, 25)
				f.edit(t, func(recs, _, meta *bolt.Bucket) {
					for s := keep + 1; s <= 25; s++ {
						recs.Delete(seqKey(s))
					}
					switch head {
					case "deleted":
						meta.Delete(keyHead)
					case "forged":
						var s Seal
						s.UnmarshalMsg(meta.Get(keyHead))
						s.Seq = keep
						v, _ := s.MarshalMsg(nil)
						meta.Put(keyHead, v)
					}
				})
				r := f.verify(t, VerifyOptions{})
				if r.OK() || r.FirstBad == 0 || r.FirstBad > keep+1 {
					t.Fatalf("got %s, want failure at or before %d", r, keep+1)
				}
			})
		}
	}
}

// TestR16WrongKey: a log signed by another key does not verify.
func TestR16WrongKey(t *testing.T) {
	f := newFixture(t, Config{})
	f.fill(t, 3)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	r, err := Verify(context.Background(), f.db, other, VerifyOptions{})
	if err != nil || r.OK() {
		t.Fatalf("%v %s", err, r)
	}
}

// TestR16AtomicWithState: a record appended in a transaction that fails is
// not written, and the head does not move.
func TestR16AtomicWithState(t *testing.T) {
	f := newFixture(t, Config{})
	f.fill(t, 2)
	err := f.db.Update(func(tx *bolt.Tx) error {
		if _, err := f.log.AppendTx(tx, Event{Actor: "u-1", Action: "grant.approve", Result: ResultOK}); err != nil {
			return err
		}
		return fmt.Errorf("state change failed")
	})
	if err == nil {
		t.Fatal("want error")
	}
	if seq, _ := f.log.Head(); seq != 2 {
		t.Fatalf("head %d", seq)
	}
	if r := f.verify(t, VerifyOptions{}); !r.OK() {
		t.Fatal(r)
	}
}

func TestR16ConcurrentAppend(t *testing.T) {
	f := newFixture(t, Config{CheckpointEvery: 50})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				if _, err := f.log.Append(context.Background(), Event{Actor: fmt.Sprintf("u-%d", w), Action: "view", Result: ResultOK, Detail: fmt.Sprint(i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if r := f.verify(t, VerifyOptions{}); !r.OK() || r.Records != 200 {
		t.Fatal(r)
	}
}

// FuzzDecodeStored: the stored-record decoder never panics, and what it
// accepts re-encodes to the same bytes with a matching hash.
func FuzzDecodeStored(f *testing.F) {
	r := Record{Seq: 1, Time: 1, Actor: "u-1", Action: "login", Result: "ok"}
	h, _ := HashRecord(&r)
	v, _ := (&Stored{Rec: r, Hash: h}).MarshalMsg(nil)
	f.Add(v)
	f.Add([]byte{0x82, 0xa1, 'r', 0x80, 0xa1, 'h', 0xc4, 0x20})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, h, err := DecodeStored(in)
		if err != nil {
			return
		}
		out, _ := (&Stored{Rec: r, Hash: h}).MarshalMsg(nil)
		if string(out) != string(in) {
			t.Fatal("accepted a non-canonical encoding")
		}
	})
}

// FuzzDecodeSeal: checkpoint and head seal decoding never panics.
func FuzzDecodeSeal(f *testing.F) {
	s := Seal{Seq: 3, Time: 9, Sig: make([]byte, 64)}
	v, _ := s.MarshalMsg(nil)
	f.Add(v)
	f.Add([]byte{0x84})
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Seal
		if _, err := s.UnmarshalMsg(in); err != nil {
			return
		}
		_ = ed25519.Verify(make([]byte, 32), sealMessage(domainHead, &s), s.Sig)
		_, _ = readSeal(in)
	})
}
