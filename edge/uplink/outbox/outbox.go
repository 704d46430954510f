package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// Errors.
var (
	// ErrNotDurable: the write transaction failed; the record is held in
	// memory (in order) and is written when writes work again. Do not append
	// it again.
	ErrNotDurable = errors.New("outbox: write failed; record held in memory only")
	// ErrFull: the record could not be kept (larger than the outbox, or the
	// in-memory spill is full); an overflow event reports it.
	ErrFull = errors.New("outbox: full; record dropped")
	// ErrCorrupt: a stored record does not decode.
	ErrCorrupt = errors.New("outbox: corrupt record")
	// ErrClosed: the outbox is closed.
	ErrClosed = errors.New("outbox: closed")
)

var (
	bucketQ    = []byte("q")    // id (8 bytes BE) → rec
	bucketKind = []byte("kind") // kind byte + id → empty (eviction order per kind)
	bucketMeta = []byte("meta")
	keyBytes   = []byte("bytes")
	keyCount   = []byte("count")
	keyBeacon  = []byte("beacon")
	keyOvf     = []byte("ovf")
)

// DefaultMaxBytes is the live size bound when Options.MaxBytes is 0.
const DefaultMaxBytes = 4 << 20

// DefaultSpillMax is the in-memory spill bound (records) when writes fail.
const DefaultSpillMax = 4096

// overflowReserve is room kept free for the overflow event.
const overflowReserve = 512

// Lost is what an overflow dropped.
type Lost struct {
	Beacons, Events, Audit uint64
	FirstID, LastID        uint64 // id range of the dropped records (0 when only unnumbered records were dropped)
}

// Total is the number of dropped records.
func (l Lost) Total() uint64 { return l.Beacons + l.Events + l.Audit }

func (l *Lost) add(k wire.Kind, id uint64) {
	switch k {
	case wire.KindBeacon:
		l.Beacons++
	case wire.KindAudit:
		l.Audit++
	default:
		l.Events++
	}
	if id != 0 {
		if l.FirstID == 0 || id < l.FirstID {
			l.FirstID = id
		}
		l.LastID = max(l.LastID, id)
	}
}

func (l *Lost) merge(o Lost) {
	l.Beacons += o.Beacons
	l.Events += o.Events
	l.Audit += o.Audit
	if o.FirstID != 0 && (l.FirstID == 0 || o.FirstID < l.FirstID) {
		l.FirstID = o.FirstID
	}
	l.LastID = max(l.LastID, o.LastID)
}

// Options configure an Outbox.
type Options struct {
	// MaxBytes bounds the live size (keys and values); default
	// DefaultMaxBytes. The file itself is larger by bbolt's page overhead
	// (typically up to about twice).
	MaxBytes int64
	// Overflow builds the payload of the outbox.overflow event with id that
	// reports lost. Required.
	Overflow func(id uint64, lost Lost) ([]byte, error)
	// SpillMax bounds the in-memory spill (records); default DefaultSpillMax.
	SpillMax int
	Logger   *slog.Logger
	Now      func() time.Time
	// WriteFault, when set, is called before every write transaction; an
	// error fails the transaction as a full or broken disk would (tests).
	WriteFault func() error
}

// Record is one queued message.
type Record struct {
	ID      uint64
	Kind    wire.Kind
	Created time.Time
	Payload []byte
}

// Stats describe the queue.
type Stats struct {
	Count    int   // records on disk
	Bytes    int64 // live size on disk
	MaxBytes int64
	Spilled  int // records held in memory (writes failing)
}

type pending struct {
	kind    wire.Kind
	created int64
	build   func(id uint64) ([]byte, error)
}

// Outbox is the durable queue. It is safe for concurrent use.
type Outbox struct {
	db  *bolt.DB
	opt Options

	wmu sync.Mutex // serializes write transactions and the spill

	mu        sync.Mutex // guards inflight, spill, spillLost, writeErr
	inflight  map[uint64]struct{}
	spill     []pending
	spillLost Lost
	writeErr  error

	notify chan struct{}
}

// Open opens (creating if needed) the outbox file at path (mode 0600).
func Open(path string, opt Options) (*Outbox, error) {
	if opt.Overflow == nil {
		return nil, errors.New("outbox: Options.Overflow is required")
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.SpillMax <= 0 {
		opt.SpillMax = DefaultSpillMax
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	o := &Outbox{db: db, opt: opt, inflight: map[uint64]struct{}{}, notify: make(chan struct{}, 1)}
	if err := db.Update(o.repair); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	return o, nil
}

// repair creates the buckets and recomputes the counters from the records,
// dropping any record that does not decode.
func (o *Outbox) repair(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketQ, bucketKind, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	q, ki, meta := tx.Bucket(bucketQ), tx.Bucket(bucketKind), tx.Bucket(bucketMeta)
	var (
		bytes, count int64
		bad          [][]byte
		beacon       uint64
	)
	c := q.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, err := DecodeRecord(k, v)
		if err != nil {
			bad = append(bad, append([]byte(nil), k...))
			continue
		}
		bytes += recSize(v)
		count++
		if r.Kind == wire.KindBeacon {
			beacon = r.ID
		}
		if ki.Get(kindKey(r.Kind, r.ID)) == nil {
			if err := ki.Put(kindKey(r.Kind, r.ID), nil); err != nil {
				return err
			}
		}
	}
	for _, k := range bad {
		o.opt.Logger.Warn("outbox: dropping a corrupt record", "id", binary.BigEndian.Uint64(pad8(k)))
		if err := q.Delete(k); err != nil {
			return err
		}
	}
	// Drop index rows whose record is gone.
	var stale [][]byte
	kc := ki.Cursor()
	for k, _ := kc.First(); k != nil; k, _ = kc.Next() {
		if len(k) != 9 || q.Get(k[1:]) == nil {
			stale = append(stale, append([]byte(nil), k...))
		}
	}
	for _, k := range stale {
		if err := ki.Delete(k); err != nil {
			return err
		}
	}
	if err := putU64(meta, keyBytes, uint64(bytes)); err != nil {
		return err
	}
	if err := putU64(meta, keyCount, uint64(count)); err != nil {
		return err
	}
	return putU64(meta, keyBeacon, beacon)
}

// Close closes the file. Spilled records that were never written are lost.
func (o *Outbox) Close() error {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	return o.db.Close()
}

// Path is the file's path.
func (o *Outbox) Path() string { return o.db.Path() }

// Notify is signalled (non-blocking, capacity 1) after records are written.
func (o *Outbox) Notify() <-chan struct{} { return o.notify }

func (o *Outbox) signal() {
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

// WriteErr is the error of the last failed write transaction, or nil once a
// write has succeeded again.
func (o *Outbox) WriteErr() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writeErr
}

// Append queues one message. build is called inside the write transaction
// with the record's id and returns the payload (which should embed the id).
// It returns the id (0 when the record was spilled to memory).
func (o *Outbox) Append(kind wire.Kind, build func(id uint64) ([]byte, error)) (uint64, error) {
	if !kind.Valid() || kind == wire.KindStatus {
		return 0, fmt.Errorf("outbox: cannot queue %s", kind)
	}
	o.wmu.Lock()
	defer o.wmu.Unlock()
	p := pending{kind: kind, created: o.opt.Now().UnixMilli(), build: build}
	o.mu.Lock()
	queued := append(o.spill[:len(o.spill):len(o.spill)], p)
	extraLost := o.spillLost
	o.mu.Unlock()

	var (
		id      uint64
		dropped bool
	)
	err := o.update(func(tx *bolt.Tx) error {
		var lost Lost
		lost.merge(extraLost)
		for i, q := range queued {
			qid, ok, err := o.insert(tx, q, &lost)
			if err != nil {
				return err
			}
			if i == len(queued)-1 {
				id, dropped = qid, !ok
			}
		}
		if lost.Events+lost.Audit > 0 {
			return o.addOverflow(tx, lost)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, errBuild) {
			return 0, err
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if len(o.spill) >= o.opt.SpillMax {
			o.spillLost.add(kind, 0)
			return 0, fmt.Errorf("%w (spill full after write error: %w)", ErrFull, err)
		}
		if kind == wire.KindBeacon {
			// Coalesce beacons in the spill too.
			for i := range o.spill {
				if o.spill[i].kind == wire.KindBeacon {
					o.spill = append(o.spill[:i], o.spill[i+1:]...)
					break
				}
			}
		}
		o.spill = append(o.spill, p)
		return 0, fmt.Errorf("%w: %w", ErrNotDurable, err)
	}
	o.mu.Lock()
	o.spill, o.spillLost = nil, Lost{}
	o.mu.Unlock()
	o.signal()
	if dropped {
		return id, ErrFull
	}
	return id, nil
}

// Retry writes the in-memory spill, if any (call it now and then while
// WriteErr is set).
func (o *Outbox) Retry() error {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	o.mu.Lock()
	queued := o.spill
	extraLost := o.spillLost
	o.mu.Unlock()
	if len(queued) == 0 && extraLost.Total() == 0 {
		return nil
	}
	err := o.update(func(tx *bolt.Tx) error {
		var lost Lost
		lost.merge(extraLost)
		for _, q := range queued {
			if _, _, err := o.insert(tx, q, &lost); err != nil {
				return err
			}
		}
		if lost.Events+lost.Audit > 0 {
			return o.addOverflow(tx, lost)
		}
		return nil
	})
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.spill = o.spill[len(queued):]
	o.spillLost = Lost{}
	o.mu.Unlock()
	o.signal()
	return nil
}

var errBuild = errors.New("outbox: building the payload failed")

// update runs one write transaction, recording its outcome in writeErr.
func (o *Outbox) update(fn func(*bolt.Tx) error) error {
	err := o.db.Update(func(tx *bolt.Tx) error {
		if o.opt.WriteFault != nil {
			if err := o.opt.WriteFault(); err != nil {
				return err
			}
		}
		return fn(tx)
	})
	if errors.Is(err, errBuild) {
		return err
	}
	o.mu.Lock()
	o.writeErr = err
	o.mu.Unlock()
	return err
}

// insert writes one record, making room if needed. ok is false when the
// record itself had to be dropped (counted in lost).
func (o *Outbox) insert(tx *bolt.Tx, p pending, lost *Lost) (id uint64, ok bool, err error) {
	q, ki, meta := tx.Bucket(bucketQ), tx.Bucket(bucketKind), tx.Bucket(bucketMeta)
	id, err = q.NextSequence()
	if err != nil {
		return 0, false, err
	}
	payload, err := p.build(id)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %w", errBuild, err)
	}
	val, err := (&rec{Kind: uint8(p.kind), Created: p.created, Payload: payload}).MarshalMsg(nil)
	if err != nil {
		return 0, false, err
	}
	size := recSize(val)
	if p.kind == wire.KindBeacon {
		if prev := getU64(meta, keyBeacon); prev != 0 && !o.isInflight(prev) {
			if _, err := o.remove(tx, prev); err != nil {
				return 0, false, err
			}
		}
	}
	limit := o.opt.MaxBytes - overflowReserve // room for an overflow event is always kept
	if used := int64(getU64(meta, keyBytes)); used+size > limit {
		if err := o.evict(tx, p.kind, used+size-limit, lost); err != nil {
			return 0, false, err
		}
		if int64(getU64(meta, keyBytes))+size > limit {
			lost.add(p.kind, id)
			return id, false, nil
		}
	}
	if err := o.put(tx, q, ki, meta, id, p.kind, val); err != nil {
		return 0, false, err
	}
	if p.kind == wire.KindBeacon {
		if err := putU64(meta, keyBeacon, id); err != nil {
			return 0, false, err
		}
	}
	return id, true, nil
}

func (o *Outbox) put(tx *bolt.Tx, q, ki, meta *bolt.Bucket, id uint64, kind wire.Kind, val []byte) error {
	if err := q.Put(u64key(id), val); err != nil {
		return err
	}
	if err := ki.Put(kindKey(kind, id), nil); err != nil {
		return err
	}
	if err := putU64(meta, keyBytes, getU64(meta, keyBytes)+uint64(recSize(val))); err != nil {
		return err
	}
	return putU64(meta, keyCount, getU64(meta, keyCount)+1)
}

// remove deletes one record and fixes the counters; it reports whether the
// record existed.
func (o *Outbox) remove(tx *bolt.Tx, id uint64) (bool, error) {
	q, ki, meta := tx.Bucket(bucketQ), tx.Bucket(bucketKind), tx.Bucket(bucketMeta)
	k := u64key(id)
	v := q.Get(k)
	if v == nil {
		return false, nil
	}
	size := recSize(v)
	kind := wire.Kind(0)
	if r, err := DecodeRecord(k, v); err == nil {
		kind = r.Kind
	}
	if err := q.Delete(k); err != nil {
		return false, err
	}
	if kind != 0 {
		if err := ki.Delete(kindKey(kind, id)); err != nil {
			return false, err
		}
	}
	if err := putU64(meta, keyBytes, getU64(meta, keyBytes)-min(getU64(meta, keyBytes), uint64(size))); err != nil {
		return false, err
	}
	if err := putU64(meta, keyCount, getU64(meta, keyCount)-min(getU64(meta, keyCount), 1)); err != nil {
		return false, err
	}
	if getU64(meta, keyBeacon) == id {
		if err := putU64(meta, keyBeacon, 0); err != nil {
			return false, err
		}
	}
	return true, nil
}

// priority orders kinds for eviction: a record may only displace records of
// the same or a lower priority (beacons < events < audit records).
func priority(k wire.Kind) int {
	switch k {
	case wire.KindBeacon:
		return 0
	case wire.KindEvent:
		return 1
	}
	return 2
}

// evict drops records to free need bytes for a new record of kind: queued
// beacons first, then the oldest events, then the oldest audit records, but
// never records of a higher priority than the new one, records in flight or
// the pending overflow event.
func (o *Outbox) evict(tx *bolt.Tx, kind wire.Kind, need int64, lost *Lost) error {
	ki, q := tx.Bucket(bucketKind), tx.Bucket(bucketQ)
	ovf := getOvf(tx.Bucket(bucketMeta))
	freed := int64(0)
	for _, victim := range []wire.Kind{wire.KindBeacon, wire.KindEvent, wire.KindAudit} {
		if priority(victim) > priority(kind) || freed >= need {
			break
		}
		var ids []uint64
		c := ki.Cursor()
		for k, _ := c.Seek([]byte{byte(victim)}); k != nil && k[0] == byte(victim) && freed < need; k, _ = c.Next() {
			id := binary.BigEndian.Uint64(k[1:])
			if o.isInflight(id) || id == ovf.ID {
				continue
			}
			if v := q.Get(k[1:]); v != nil {
				freed += recSize(v)
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			if ok, err := o.remove(tx, id); err != nil {
				return err
			} else if ok {
				lost.add(victim, id)
			}
		}
	}
	return nil
}

// addOverflow queues (or refreshes) the overflow event reporting lost.
func (o *Outbox) addOverflow(tx *bolt.Tx, lost Lost) error {
	q, ki, meta := tx.Bucket(bucketQ), tx.Bucket(bucketKind), tx.Bucket(bucketMeta)
	ovf := getOvf(meta)
	total := lost
	if ovf.ID != 0 && !o.isInflight(ovf.ID) && q.Get(u64key(ovf.ID)) != nil {
		// Merge with the queued, unsent overflow event.
		total.merge(Lost{Beacons: ovf.Beacons, Events: ovf.Events, Audit: ovf.Audit, FirstID: ovf.FirstID, LastID: ovf.LastID})
		if _, err := o.remove(tx, ovf.ID); err != nil {
			return err
		}
	}
	id, err := q.NextSequence()
	if err != nil {
		return err
	}
	payload, err := o.opt.Overflow(id, total)
	if err != nil {
		return fmt.Errorf("outbox: build overflow event: %w", err)
	}
	val, err := (&rec{Kind: uint8(wire.KindEvent), Created: o.opt.Now().UnixMilli(), Payload: payload}).MarshalMsg(nil)
	if err != nil {
		return err
	}
	if err := o.put(tx, q, ki, meta, id, wire.KindEvent, val); err != nil {
		return err
	}
	o.opt.Logger.Warn("outbox overflow: records dropped", "beacons", total.Beacons, "events", total.Events, "audit", total.Audit, "first_id", total.FirstID, "last_id", total.LastID)
	st := overflowState{ID: id, Beacons: total.Beacons, Events: total.Events, Audit: total.Audit, FirstID: total.FirstID, LastID: total.LastID}
	b, err := st.MarshalMsg(nil)
	if err != nil {
		return err
	}
	return meta.Put(keyOvf, b)
}

// Next returns up to n records with ids greater than after, in id order, and
// marks them in flight (they are not evicted or coalesced away until Ack or
// Release).
func (o *Outbox) Next(after uint64, n int) ([]Record, error) {
	o.mu.Lock()
	spilled := len(o.spill) > 0 || o.spillLost.Total() > 0
	o.mu.Unlock()
	if spilled {
		_ = o.Retry() // best effort; the error stays in WriteErr
	}
	var out []Record
	err := o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQ).Cursor()
		for k, v := c.Seek(u64key(after + 1)); k != nil && len(out) < n; k, v = c.Next() {
			r, err := DecodeRecord(k, v)
			if err != nil {
				o.opt.Logger.Warn("outbox: skipping a corrupt record", "err", err)
				continue
			}
			r.Payload = append([]byte(nil), r.Payload...)
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: read: %w", err)
	}
	o.mu.Lock()
	for _, r := range out {
		o.inflight[r.ID] = struct{}{}
	}
	o.mu.Unlock()
	return out, nil
}

// Ack removes acknowledged records. Ids that are gone already are ignored.
func (o *Outbox) Ack(ids ...uint64) error {
	if len(ids) == 0 {
		return nil
	}
	o.wmu.Lock()
	defer o.wmu.Unlock()
	err := o.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		ovf := getOvf(meta)
		for _, id := range ids {
			if _, err := o.remove(tx, id); err != nil {
				return err
			}
			if id == ovf.ID {
				if err := meta.Delete(keyOvf); err != nil {
					return err
				}
			}
		}
		return nil
	})
	o.mu.Lock()
	for _, id := range ids {
		delete(o.inflight, id)
	}
	o.mu.Unlock()
	if err != nil {
		return fmt.Errorf("outbox: ack: %w", err)
	}
	return nil
}

// Release forgets every in-flight mark (the connection dropped; they will be
// sent again).
func (o *Outbox) Release() {
	o.mu.Lock()
	clear(o.inflight)
	o.mu.Unlock()
}

func (o *Outbox) isInflight(id uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.inflight[id]
	return ok
}

// Stats reads the counters.
func (o *Outbox) Stats() Stats {
	s := Stats{MaxBytes: o.opt.MaxBytes}
	_ = o.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		s.Bytes = int64(getU64(meta, keyBytes))
		s.Count = int(getU64(meta, keyCount))
		return nil
	})
	o.mu.Lock()
	s.Spilled = len(o.spill)
	o.mu.Unlock()
	return s
}

// DecodeRecord decodes one stored record (key and value as in the file).
func DecodeRecord(k, v []byte) (Record, error) {
	if len(k) != 8 {
		return Record{}, fmt.Errorf("%w: key of %d bytes", ErrCorrupt, len(k))
	}
	var r rec
	rest, err := r.UnmarshalMsg(v)
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if len(rest) != 0 {
		return Record{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	kind := wire.Kind(r.Kind)
	if !kind.Valid() || kind == wire.KindStatus {
		return Record{}, fmt.Errorf("%w: kind %d", ErrCorrupt, r.Kind)
	}
	if len(r.Payload) > kind.MaxBytes() {
		return Record{}, fmt.Errorf("%w: %s payload of %d bytes", ErrCorrupt, kind, len(r.Payload))
	}
	return Record{ID: binary.BigEndian.Uint64(k), Kind: kind, Created: time.UnixMilli(r.Created), Payload: r.Payload}, nil
}

// EncodeRecord is the inverse of DecodeRecord (tests and fuzz seeds).
func EncodeRecord(r Record) (k, v []byte, err error) {
	v, err = (&rec{Kind: uint8(r.Kind), Created: r.Created.UnixMilli(), Payload: r.Payload}).MarshalMsg(nil)
	return u64key(r.ID), v, err
}

func recSize(v []byte) int64 { return int64(8 + 9 + len(v)) }

func u64key(id uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, id)
	return k
}

func kindKey(k wire.Kind, id uint64) []byte {
	b := make([]byte, 9)
	b[0] = byte(k)
	binary.BigEndian.PutUint64(b[1:], id)
	return b
}

func pad8(k []byte) []byte {
	if len(k) >= 8 {
		return k[:8]
	}
	return append(make([]byte, 8-len(k)), k...)
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putU64(b *bolt.Bucket, k []byte, n uint64) error {
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, n)
	return b.Put(k, v)
}

func getOvf(meta *bolt.Bucket) overflowState {
	var s overflowState
	if v := meta.Get(keyOvf); v != nil {
		if _, err := s.UnmarshalMsg(v); err != nil {
			return overflowState{}
		}
	}
	return s
}
