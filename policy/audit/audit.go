package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Bucket names this package owns in the policy database.
var (
	bucketRecords     = []byte("audit")
	bucketCheckpoints = []byte("audit.ckpt")
	bucketMeta        = []byte("audit.meta")
	keyHead           = []byte("head")
)

// Domain strings of hashes and signatures.
const (
	domainRecord     = "edgerec/audit/record/v1\x00"
	domainCheckpoint = "edgerec/audit/checkpoint/v1\x00"
	domainHead       = "edgerec/audit/head/v1\x00"
)

// Results.
const (
	ResultOK     = "ok"
	ResultDenied = "denied"
	ResultFailed = "failed"
)

// Target kinds.
const (
	KindUser   = "user"
	KindCamera = "camera"
	KindGrant  = "grant"
	KindDevice = "device"
	KindConfig = "config"
)

// Limits on event fields (bytes).
const (
	maxField  = 256
	maxDetail = 2048
)

// Errors.
var (
	ErrInvalid = errors.New("audit: invalid event")
	ErrCorrupt = errors.New("audit: corrupt log")
)

// Event is what a caller appends; Seq, Time and Prev are filled in.
type Event struct {
	Actor      string
	Action     string
	TargetKind string
	Target     string
	Grant      string
	Result     string
	Detail     string
}

// Config tunes checkpoints.
type Config struct {
	// CheckpointEvery: a signed checkpoint every N records (default 1000).
	CheckpointEvery uint64
	// CheckpointInterval: or when this long has passed since the last
	// checkpoint, at the next append (default 1h).
	CheckpointInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 1000
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = time.Hour
	}
	return c
}

// Log is the audit log in a bbolt database shared with the rest of the
// policy store (so a state change and its audit record commit together).
type Log struct {
	db  *bolt.DB
	key ed25519.PrivateKey
	cfg Config
	now func() time.Time
	log *slog.Logger
}

// Init creates the buckets in tx (idempotent).
func Init(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketRecords, bucketCheckpoints, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("audit: bucket %s: %w", b, err)
		}
	}
	return nil
}

// New returns the log over db (whose buckets Init created), signing with key.
func New(db *bolt.DB, key ed25519.PrivateKey, cfg Config, now func() time.Time, log *slog.Logger) *Log {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Log{db: db, key: key, cfg: cfg.withDefaults(), now: now, log: log}
}

func (e Event) validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"actor", e.Actor, maxField}, {"action", e.Action, maxField}, {"target kind", e.TargetKind, maxField},
		{"target", e.Target, maxField}, {"grant", e.Grant, maxField}, {"result", e.Result, maxField}, {"detail", e.Detail, maxDetail}} {
		if len(f.v) > f.max {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, f.name, f.max)
		}
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, f.name)
		}
	}
	if e.Actor == "" || e.Action == "" || e.Result == "" {
		return fmt.Errorf("%w: actor, action and result are required", ErrInvalid)
	}
	return nil
}

// Append writes one record in its own transaction. Concurrent Appends are
// coalesced into one bbolt commit (one fsync) by bolt's Batch: this is the
// fsync batching. It returns the record as written.
func (l *Log) Append(ctx context.Context, e Event) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if err := e.validate(); err != nil {
		return Record{}, err
	}
	var out Record
	err := l.db.Batch(func(tx *bolt.Tx) error {
		r, err := l.AppendTx(tx, e)
		out = r
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("audit: append: %w", err)
	}
	return out, nil
}

// AppendTx writes one record inside the caller's write transaction, so that
// a state change and its record commit (or roll back) together. It also
// rewrites the signed head seal and writes a checkpoint when one is due.
func (l *Log) AppendTx(tx *bolt.Tx, e Event) (Record, error) {
	if err := e.validate(); err != nil {
		return Record{}, err
	}
	recs, ckb, meta := tx.Bucket(bucketRecords), tx.Bucket(bucketCheckpoints), tx.Bucket(bucketMeta)
	if recs == nil || ckb == nil || meta == nil {
		return Record{}, fmt.Errorf("%w: buckets missing", ErrCorrupt)
	}
	head, err := readSeal(meta.Get(keyHead))
	if err != nil {
		return Record{}, err
	}
	now := l.now().UTC()
	r := Record{Seq: head.Seq + 1, Time: now.UnixNano(), Actor: e.Actor, Action: e.Action, TargetKind: e.TargetKind,
		Target: e.Target, Grant: e.Grant, Result: e.Result, Detail: e.Detail, Prev: head.Hash}
	h, err := HashRecord(&r)
	if err != nil {
		return Record{}, err
	}
	v, err := (&Stored{Rec: r, Hash: h}).MarshalMsg(nil)
	if err != nil {
		return Record{}, fmt.Errorf("audit: encode: %w", err)
	}
	if err := recs.Put(seqKey(r.Seq), v); err != nil {
		return Record{}, fmt.Errorf("audit: put: %w", err)
	}
	hs := l.sign(domainHead, r.Seq, h, r.Time)
	hv, _ := hs.MarshalMsg(nil)
	if err := meta.Put(keyHead, hv); err != nil {
		return Record{}, fmt.Errorf("audit: head: %w", err)
	}
	due := r.Seq%l.cfg.CheckpointEvery == 0
	if !due {
		k, v := ckb.Cursor().Last()
		if k == nil {
			due = r.Seq == 1
		} else {
			var last Seal
			if _, err := last.UnmarshalMsg(v); err != nil {
				return Record{}, fmt.Errorf("%w: checkpoint: %v", ErrCorrupt, err)
			}
			due = now.Sub(time.Unix(0, last.Time)) >= l.cfg.CheckpointInterval
		}
	}
	if due {
		cs := l.sign(domainCheckpoint, r.Seq, h, r.Time)
		cv, _ := cs.MarshalMsg(nil)
		if err := ckb.Put(seqKey(r.Seq), cv); err != nil {
			return Record{}, fmt.Errorf("audit: checkpoint: %w", err)
		}
	}
	return r, nil
}

func (l *Log) sign(domain string, seq uint64, h [32]byte, t int64) Seal {
	s := Seal{Seq: seq, Hash: h, Time: t}
	s.Sig = ed25519.Sign(l.key, sealMessage(domain, &s))
	return s
}

func sealMessage(domain string, s *Seal) []byte {
	m := make([]byte, 0, len(domain)+48)
	m = append(m, domain...)
	m = binary.BigEndian.AppendUint64(m, s.Seq)
	m = append(m, s.Hash[:]...)
	m = binary.BigEndian.AppendUint64(m, uint64(s.Time))
	return m
}

func readSeal(v []byte) (Seal, error) {
	var s Seal
	if v == nil {
		return s, nil
	}
	if _, err := s.UnmarshalMsg(v); err != nil {
		return s, fmt.Errorf("%w: head: %v", ErrCorrupt, err)
	}
	return s, nil
}

// HashRecord is the chain hash of r: SHA-256 over a domain string and the
// canonical msgp encoding of r (fields in declaration order, as generated),
// which includes Prev, the previous record's hash.
func HashRecord(r *Record) ([32]byte, error) {
	b, err := r.MarshalMsg([]byte(domainRecord))
	if err != nil {
		return [32]byte{}, fmt.Errorf("audit: encode: %w", err)
	}
	return sha256.Sum256(b), nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// DecodeStored decodes a Stored record value strictly: it must be the
// canonical encoding of its content (nothing appended, no unknown or
// reordered fields), and its hash must be the hash of its record.
func DecodeStored(v []byte) (Record, [32]byte, error) {
	var s Stored
	rest, err := s.UnmarshalMsg(v)
	if err != nil {
		return Record{}, [32]byte{}, fmt.Errorf("%w: decode: %v", ErrCorrupt, err)
	}
	if len(rest) != 0 {
		return Record{}, [32]byte{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	canon, err := s.MarshalMsg(nil)
	if err != nil || !bytes.Equal(canon, v) {
		return Record{}, [32]byte{}, fmt.Errorf("%w: not the canonical encoding", ErrCorrupt)
	}
	h, err := HashRecord(&s.Rec)
	if err != nil {
		return Record{}, [32]byte{}, err
	}
	if h != s.Hash {
		return Record{}, [32]byte{}, fmt.Errorf("%w: record hash does not match its content", ErrCorrupt)
	}
	return s.Rec, s.Hash, nil
}

// Head returns the sequence number and hash of the last record (0 and the
// zero hash for an empty log), for beacons (R16). A read error is logged and
// returns zeros.
func (l *Log) Head() (uint64, [32]byte) {
	var s Seal
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return ErrCorrupt
		}
		var err error
		s, err = readSeal(b.Get(keyHead))
		return err
	})
	if err != nil {
		l.log.Error("audit: read head", "err", err)
		return 0, [32]byte{}
	}
	return s.Seq, s.Hash
}

// After returns up to max records with Seq > seq, in order (for the uplink
// outbox). Each record is checked as it is decoded (hash and link to the one
// before it in the batch); a bad record stops the batch with ErrCorrupt.
func (l *Log) After(ctx context.Context, seq uint64, max int) ([]Record, error) {
	if max <= 0 {
		max = 100
	}
	var out []Record
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRecords)
		if b == nil {
			return fmt.Errorf("%w: buckets missing", ErrCorrupt)
		}
		c := b.Cursor()
		var prev [32]byte
		next := seq + 1
		for k, v := c.Seek(seqKey(next)); k != nil && len(out) < max; k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, h, err := DecodeStored(v)
			if err != nil {
				return fmt.Errorf("seq %d: %w", next, err)
			}
			if binary.BigEndian.Uint64(k) != next || r.Seq != next || (len(out) > 0 && r.Prev != prev) {
				return fmt.Errorf("%w: chain broken at seq %d", ErrCorrupt, next)
			}
			out = append(out, r)
			prev = h
			next++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: read after %d: %w", seq, err)
	}
	return out, nil
}
