package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// Errors; match with errors.Is.
var (
	ErrCorrupt  = errors.New("index: corrupt")
	ErrNotFound = errors.New("index: not found")
	ErrLocked   = errors.New("index: in use by another process")
)

// SchemaVersion is Head.Version for this code.
const SchemaVersion = 1

var (
	bMeta  = []byte("meta")
	bSeg   = []byte("seg")
	bCam   = []byte("cam")
	bLSN   = []byte("lsn")
	bOpen  = []byte("open")
	bEpoch = []byte("epoch")
	bHold  = []byte("hold")
	bHKey  = []byte("hkey")
	bHArea = []byte("harea")
	kHead  = []byte("head")

	allBuckets = [][]byte{bMeta, bSeg, bCam, bLSN, bOpen, bEpoch, bHold, bHKey, bHArea}
)

// DB is the open index.
type DB struct {
	db *bolt.DB
}

// Create makes a new index at path (which must not exist) holding head.
func Create(path string, head Head) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("index: %s exists", path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	d := &DB{db: db}
	err = d.Update(func(tx *Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		head.Version = SchemaVersion
		return tx.PutHead(&head)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open opens an existing index. readOnly takes a shared lock and never
// writes.
func Open(path string, readOnly bool) (d *DB, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly, FreelistType: bolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, bolterr.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		if errors.Is(err, bolterr.ErrInvalid) || errors.Is(err, bolterr.ErrVersionMismatch) || errors.Is(err, bolterr.ErrChecksum) {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
		return nil, fmt.Errorf("index: %s: %w", path, err)
	}
	d = &DB{db: db}
	err = d.View(func(tx *Tx) error {
		for _, b := range allBuckets {
			if tx.tx.Bucket(b) == nil {
				return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, b)
			}
		}
		h, err := tx.Head()
		if err != nil {
			return err
		}
		if h.Version != SchemaVersion {
			return fmt.Errorf("%w: schema version %d, want %d", ErrCorrupt, h.Version, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the index.
func (d *DB) Close() error { return d.db.Close() }

// Path returns the file path.
func (d *DB) Path() string { return d.db.Path() }

// CheckPages runs bbolt's page consistency check.
func (d *DB) CheckPages() error {
	return d.View(func(tx *Tx) error {
		var errs []error
		for err := range tx.tx.Check() { // drain: Check's goroutine blocks otherwise
			if len(errs) < 10 {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %w", ErrCorrupt, errors.Join(errs...))
		}
		return nil
	})
}

// Tx is a transaction.
type Tx struct {
	tx *bolt.Tx
}

func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}

// View runs fn in a read transaction.
func (d *DB) View(fn func(*Tx) error) error {
	return guard(func() error { return d.db.View(func(t *bolt.Tx) error { return fn(&Tx{tx: t}) }) })
}

// Update runs fn in a write transaction; it is durable when Update returns nil.
func (d *DB) Update(fn func(*Tx) error) error {
	return guard(func() error { return d.db.Update(func(t *bolt.Tx) error { return fn(&Tx{tx: t}) }) })
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// TimeKey maps unix nanoseconds to an order-preserving 8-byte key.
func TimeKey(t int64) uint64 { return uint64(t) ^ (1 << 63) }

func camKey(start int64, id uint64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), TimeKey(start))
	return binary.BigEndian.AppendUint64(b, id)
}

func lsnKey(lsn, id uint64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), lsn)
	return binary.BigEndian.AppendUint64(b, id)
}

// Head returns the head row.
func (t *Tx) Head() (Head, error) {
	var h Head
	v := t.tx.Bucket(bMeta).Get(kHead)
	if v == nil {
		return h, fmt.Errorf("%w: head row missing", ErrCorrupt)
	}
	if _, err := h.UnmarshalMsg(v); err != nil {
		return h, fmt.Errorf("%w: head row: %v", ErrCorrupt, err)
	}
	return h, nil
}

// PutHead writes the head row.
func (t *Tx) PutHead(h *Head) error {
	v, err := h.MarshalMsg(nil)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bMeta).Put(kHead, v)
}

// Segment returns segment id.
func (t *Tx) Segment(id uint64) (Segment, error) {
	var s Segment
	v := t.tx.Bucket(bSeg).Get(u64(id))
	if v == nil {
		return s, fmt.Errorf("%w: segment %d", ErrNotFound, id)
	}
	if _, err := s.UnmarshalMsg(v); err != nil {
		return s, fmt.Errorf("%w: segment %d: %v", ErrCorrupt, id, err)
	}
	if s.ID != id {
		return s, fmt.Errorf("%w: segment row %d says id %d", ErrCorrupt, id, s.ID)
	}
	return s, nil
}

// PutSegment writes the row of s (secondary indexes are maintained by the
// explicit methods below).
func (t *Tx) PutSegment(s *Segment) error {
	v, err := s.MarshalMsg(nil)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bSeg).Put(u64(s.ID), v)
}

// InsertSegment writes a new segment row, its camera entry and marks it open
// unless it is closed.
func (t *Tx) InsertSegment(s *Segment) error {
	if err := t.PutSegment(s); err != nil {
		return err
	}
	cb, err := t.tx.Bucket(bCam).CreateBucketIfNotExists([]byte(s.Camera))
	if err != nil {
		return err
	}
	cb.FillPercent = 0.9
	if err := cb.Put(camKey(s.Start, s.ID), nil); err != nil {
		return err
	}
	if !s.Closed {
		return t.SetOpen(s.ID, true)
	}
	return nil
}

// SetOpen adds or removes id from the open set.
func (t *Tx) SetOpen(id uint64, open bool) error {
	if open {
		return t.tx.Bucket(bOpen).Put(u64(id), nil)
	}
	return t.tx.Bucket(bOpen).Delete(u64(id))
}

// SetInLog adds or removes s from the eviction order (by FirstLSN).
func (t *Tx) SetInLog(s *Segment, in bool) error {
	b := t.tx.Bucket(bLSN)
	b.FillPercent = 0.9
	if in {
		return b.Put(lsnKey(s.FirstLSN, s.ID), nil)
	}
	return b.Delete(lsnKey(s.FirstLSN, s.ID))
}

// DeleteSegment removes s and all its secondary entries.
func (t *Tx) DeleteSegment(s *Segment) error {
	if cb := t.tx.Bucket(bCam).Bucket([]byte(s.Camera)); cb != nil {
		if err := cb.Delete(camKey(s.Start, s.ID)); err != nil {
			return err
		}
	}
	if s.Chunks > 0 && !s.InHold {
		if err := t.SetInLog(s, false); err != nil {
			return err
		}
	}
	if err := t.SetOpen(s.ID, false); err != nil {
		return err
	}
	return t.tx.Bucket(bSeg).Delete(u64(s.ID))
}

// OpenSegments returns the ids of segments not yet closed.
func (t *Tx) OpenSegments() []uint64 {
	var ids []uint64
	c := t.tx.Bucket(bOpen).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) == 8 {
			ids = append(ids, binary.BigEndian.Uint64(k))
		}
	}
	return ids
}

// Cameras returns every camera with a segment bucket.
func (t *Tx) Cameras() []string {
	var out []string
	c := t.tx.Bucket(bCam).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			out = append(out, string(k))
		}
	}
	return out
}

// CameraSegments calls fn with the ids of camera's segments that may overlap
// [from, to): the last one starting at or before from, then every one
// starting before to, in start order. fn returning false stops.
func (t *Tx) CameraSegments(camera string, from, to int64, fn func(id uint64, start int64) bool) error {
	cb := t.tx.Bucket(bCam).Bucket([]byte(camera))
	if cb == nil {
		return nil
	}
	c := cb.Cursor()
	k, _ := c.Seek(camKey(from, ^uint64(0)))
	// Step back to the last segment starting at or before from.
	if k == nil {
		k, _ = c.Last()
	} else if !bytes.Equal(k, camKey(from, ^uint64(0))) {
		if pk, _ := c.Prev(); pk != nil {
			k = pk
		} else {
			k, _ = c.First()
		}
	}
	for ; k != nil; k, _ = c.Next() {
		if len(k) != 16 {
			return fmt.Errorf("%w: camera key of %d bytes", ErrCorrupt, len(k))
		}
		start := int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
		if start >= to {
			return nil
		}
		if !fn(binary.BigEndian.Uint64(k[8:]), start) {
			return nil
		}
	}
	return nil
}

// SegmentAt returns the id of camera's segment with the latest start at or
// before t (0 if none).
func (t *Tx) SegmentAt(camera string, at int64) uint64 {
	cb := t.tx.Bucket(bCam).Bucket([]byte(camera))
	if cb == nil {
		return 0
	}
	c := cb.Cursor()
	k, _ := c.Seek(camKey(at, ^uint64(0)))
	if k == nil || !bytes.Equal(k, camKey(at, ^uint64(0))) {
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	}
	if len(k) != 16 {
		return 0
	}
	return binary.BigEndian.Uint64(k[8:])
}

// FirstSegment returns the first segment id of camera in start order (0 if none).
func (t *Tx) FirstSegment(camera string) uint64 {
	cb := t.tx.Bucket(bCam).Bucket([]byte(camera))
	if cb == nil {
		return 0
	}
	k, _ := cb.Cursor().First()
	if len(k) != 16 {
		return 0
	}
	return binary.BigEndian.Uint64(k[8:])
}

// InLog calls fn with (firstLSN, id) of the segments in the data region in
// eviction order, starting at the oldest. fn returning false stops.
func (t *Tx) InLog(fn func(first, id uint64) bool) error {
	c := t.tx.Bucket(bLSN).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 16 {
			return fmt.Errorf("%w: lsn key of %d bytes", ErrCorrupt, len(k))
		}
		if !fn(binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:])) {
			return nil
		}
	}
	return nil
}

// AllSegments calls fn with every segment row in id order.
func (t *Tx) AllSegments(fn func(*Segment) error) error {
	c := t.tx.Bucket(bSeg).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var s Segment
		if _, err := s.UnmarshalMsg(v); err != nil {
			return fmt.Errorf("%w: segment row %x: %v", ErrCorrupt, k, err)
		}
		if err := fn(&s); err != nil {
			return err
		}
	}
	return nil
}

func epochKey(camera, day string, gen uint32) []byte {
	b := append([]byte(camera), 0)
	b = append(b, day...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, gen)
}

// PutEpoch writes e.
func (t *Tx) PutEpoch(e *Epoch) error {
	v, err := e.MarshalMsg(nil)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bEpoch).Put(epochKey(e.Camera, e.Day, e.Gen), v)
}

// LatestEpoch returns the newest generation of (camera, day), if any.
func (t *Tx) LatestEpoch(camera, day string) (Epoch, bool, error) {
	prefix := append(append([]byte(camera), 0), append([]byte(day), 0)...)
	c := t.tx.Bucket(bEpoch).Cursor()
	var last []byte
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		last = v
	}
	if last == nil {
		return Epoch{}, false, nil
	}
	var e Epoch
	if _, err := e.UnmarshalMsg(last); err != nil {
		return e, false, fmt.Errorf("%w: epoch row: %v", ErrCorrupt, err)
	}
	return e, true, nil
}

// Epochs calls fn with every epoch (camera "" = all cameras) in key order.
func (t *Tx) Epochs(camera string, fn func(*Epoch) error) error {
	var prefix []byte
	if camera != "" {
		prefix = append([]byte(camera), 0)
	}
	c := t.tx.Bucket(bEpoch).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var e Epoch
		if _, err := e.UnmarshalMsg(v); err != nil {
			return fmt.Errorf("%w: epoch row: %v", ErrCorrupt, err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

// PutHold writes h.
func (t *Tx) PutHold(h *Hold) error {
	v, err := h.MarshalMsg(nil)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bHold).Put(u64(h.ID), v)
}

// Hold returns hold id.
func (t *Tx) Hold(id uint64) (Hold, error) {
	var h Hold
	v := t.tx.Bucket(bHold).Get(u64(id))
	if v == nil {
		return h, fmt.Errorf("%w: hold %d", ErrNotFound, id)
	}
	if _, err := h.UnmarshalMsg(v); err != nil {
		return h, fmt.Errorf("%w: hold %d: %v", ErrCorrupt, id, err)
	}
	return h, nil
}

// DeleteHold removes hold id and its wrapped keys.
func (t *Tx) DeleteHold(id uint64) error {
	c := t.tx.Bucket(bHKey).Cursor()
	p := u64(id)
	var del [][]byte
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		del = append(del, bytes.Clone(k))
	}
	for _, k := range del {
		if err := t.tx.Bucket(bHKey).Delete(k); err != nil {
			return err
		}
	}
	return t.tx.Bucket(bHold).Delete(p)
}

// Holds calls fn with every hold.
func (t *Tx) Holds(fn func(*Hold) error) error {
	c := t.tx.Bucket(bHold).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var h Hold
		if _, err := h.UnmarshalMsg(v); err != nil {
			return fmt.Errorf("%w: hold row: %v", ErrCorrupt, err)
		}
		if err := fn(&h); err != nil {
			return err
		}
	}
	return nil
}

// PutHoldKey stores segment seg's key wrapped by hold's key.
func (t *Tx) PutHoldKey(hold, seg uint64, wrapped []byte) error {
	return t.tx.Bucket(bHKey).Put(append(u64(hold), u64(seg)...), wrapped)
}

// HoldKey returns the wrapped key of seg under hold (nil if none).
func (t *Tx) HoldKey(hold, seg uint64) []byte {
	v := t.tx.Bucket(bHKey).Get(append(u64(hold), u64(seg)...))
	return bytes.Clone(v)
}

// DeleteHoldKey removes one wrapped key.
func (t *Tx) DeleteHoldKey(hold, seg uint64) error {
	return t.tx.Bucket(bHKey).Delete(append(u64(hold), u64(seg)...))
}

// PutExtent records an allocation in the hold area.
func (t *Tx) PutExtent(e *HoldExtent) error {
	v, err := e.MarshalMsg(nil)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bHArea).Put(u64(uint64(e.Off)), v)
}

// DeleteExtent frees the allocation at off.
func (t *Tx) DeleteExtent(off int64) error {
	return t.tx.Bucket(bHArea).Delete(u64(uint64(off)))
}

// Extents returns the hold-area allocations in offset order.
func (t *Tx) Extents() ([]HoldExtent, error) {
	var out []HoldExtent
	c := t.tx.Bucket(bHArea).Cursor()
	for _, v := c.First(); v != nil; _, v = c.Next() {
		var e HoldExtent
		if _, err := e.UnmarshalMsg(v); err != nil {
			return nil, fmt.Errorf("%w: hold extent: %v", ErrCorrupt, err)
		}
		out = append(out, e)
	}
	return out, nil
}
