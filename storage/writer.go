package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/seal"
)

// pchunk is a chunk (or pad record) whose log position is reserved and that
// waits for the flusher.
type pchunk struct {
	w      *SegmentWriter // nil for a pad
	seg    uint64
	index  uint32
	lsn    uint64
	size   int // bytes of log it occupies
	pad    bool
	raw    []byte // sealed bytes; for a pad, its header (nil: implicit pad)
	ready  bool
	done   bool
	last   bool
	frames int
	first  int64
	end    int64
	key    bool
}

// SegmentWriter writes the frames of one segment. Use it from one goroutine
// (the store's flusher also touches it, under its lock).
type SegmentWriter struct {
	s      *Store
	id     uint64
	camera string
	sealer *seal.Segment

	mu       sync.Mutex
	buf      []byte
	nframes  int
	bufFirst int64
	bufLast  int64
	bufKey   bool
	next     uint32
	started  bool
	last     int64
	closed   bool
	evicted  atomic.Bool
}

// ID returns the segment id.
func (w *SegmentWriter) ID() uint64 { return w.id }

// BeginSegment opens a new segment for m.Camera. The first frame written
// must be a keyframe. A camera has at most one open writer (ErrBusy).
func (s *Store) BeginSegment(ctx context.Context, m SegmentMeta) (*SegmentWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.Camera == "" || len(m.Camera) > 255 {
		return nil, fmt.Errorf("%w: camera id must be 1..255 bytes", ErrInvalid)
	}
	if m.Start.IsZero() {
		return nil, fmt.Errorf("%w: segment start time is zero", ErrInvalid)
	}
	switch m.Codec {
	case "", "h264", "h265":
	default:
		return nil, fmt.Errorf("%w: segment codec %q (want h264 or h265)", ErrInvalid, m.Codec)
	}
	if s.readOnly {
		return nil, fmt.Errorf("%w: store opened read-only", ErrInvalid)
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, ErrClosed
	case s.failed != nil:
		err := s.failed
		s.mu.Unlock()
		return nil, err
	case s.writers[m.Camera] != nil:
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrBusy, m.Camera)
	}
	// Reserve the camera slot while the row is created.
	placeholder := &SegmentWriter{camera: m.Camera, closed: true}
	s.writers[m.Camera] = placeholder
	s.mu.Unlock()

	w, err := s.beginSegment(m)
	s.mu.Lock()
	if err != nil || s.closed {
		delete(s.writers, m.Camera)
		s.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return nil, err
	}
	s.writers[m.Camera] = w
	s.mu.Unlock()
	return w, nil
}

func (s *Store) beginSegment(m SegmentMeta) (*SegmentWriter, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	day := keys.DayOf(m.Start)
	var (
		ep    index.Epoch
		found bool
		id    uint64
	)
	err := s.idx.View(func(tx *index.Tx) error {
		var err error
		ep, found, err = tx.LatestEpoch(m.Camera, day)
		if err != nil {
			return err
		}
		h, err := tx.Head()
		id = h.NextSeg
		return err
	})
	if err != nil {
		return nil, wrapIndex(err)
	}
	newEpoch := !found
	if found && (ep.Erased || !s.ks.EpochExists(keys.EpochID{Camera: m.Camera, Day: day, Gen: ep.Gen})) {
		// The day's key was destroyed (retention, or an interrupted
		// retention run): footage arriving for it gets a new generation.
		ep = index.Epoch{Camera: m.Camera, Day: day, Gen: ep.Gen + 1}
		newEpoch = true
	} else if !found {
		ep = index.Epoch{Camera: m.Camera, Day: day}
	}
	eid := keys.EpochID{Camera: m.Camera, Day: day, Gen: ep.Gen}
	ek, err := s.ks.EpochKey(eid, newEpoch)
	if err != nil {
		return nil, fmt.Errorf("storage: epoch key: %w", err)
	}
	sk, err := keys.NewKey()
	if err != nil {
		return nil, err
	}
	wrapped, err := keys.Wrap(ek, sk, keys.SegmentAAD(id))
	if err != nil {
		return nil, err
	}
	sealer, err := seal.NewSegment(s.cipher, sk, id)
	clear(sk)
	if err != nil {
		return nil, err
	}
	row := &index.Segment{
		ID: id, Camera: m.Camera, Start: m.Start.UnixNano(), End: m.Start.UnixNano(),
		Synced: m.ClockSynced, EpochDay: day, EpochGen: ep.Gen, Key: wrapped,
		Codec: m.Codec,
	}
	err = s.idx.Update(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		if h.NextSeg != id {
			return fmt.Errorf("%w: segment id moved", index.ErrCorrupt)
		}
		h.NextSeg++
		h.Segments++
		if newEpoch {
			ep.Created = s.now().UnixNano()
			if err := tx.PutEpoch(&ep); err != nil {
				return err
			}
		}
		if err := tx.InsertSegment(row); err != nil {
			return err
		}
		return tx.PutHead(&h)
	})
	if err != nil {
		return nil, s.fail(fmt.Errorf("storage: begin segment: %w", wrapIndex(err)))
	}
	return &SegmentWriter{s: s, id: id, camera: m.Camera, sealer: sealer, buf: make([]byte, 0, s.chunkSize+4096)}, nil
}

// WriteFrame appends f. Frames must not go back in time; the first must be
// a keyframe. It may block briefly when the flusher is behind.
func (w *SegmentWriter) WriteFrame(f Frame) error {
	s := w.s
	if len(f.Data) > s.maxFrame() {
		return fmt.Errorf("%w: frame of %d bytes exceeds %d", ErrInvalid, len(f.Data), s.maxFrame())
	}
	w.mu.Lock()
	err := w.writeLocked(f)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	return s.throttle()
}

func (s *Store) maxFrame() int { return int(min(int64(MaxFrameSize), s.hdr.DataSize/8)) }

func (w *SegmentWriter) writeLocked(f Frame) error {
	if w.closed {
		return fmt.Errorf("%w: segment %d", ErrClosed, w.id)
	}
	if w.evicted.Load() {
		return fmt.Errorf("%w: segment %d of %s", ErrEvicted, w.id, w.camera)
	}
	t := f.Time.UnixNano()
	if !w.started && !f.Key {
		return fmt.Errorf("%w: the first frame of a segment must be a keyframe", ErrInvalid)
	}
	if w.started && t < w.last {
		return fmt.Errorf("%w: frame time %v is before the previous frame", ErrInvalid, f.Time)
	}
	n := frameSize(len(f.Data))
	if len(w.buf) > 0 && (f.Key || len(w.buf)+n > w.s.chunkSize) {
		if err := w.sealLocked(false); err != nil {
			return err
		}
	}
	if len(w.buf) == 0 {
		w.bufFirst, w.bufKey = t, f.Key
	}
	w.buf = appendFrame(w.buf, f)
	w.nframes++
	w.bufLast, w.last, w.started = t, t, true
	if len(w.buf) >= w.s.chunkSize {
		return w.sealLocked(false)
	}
	return nil
}

// sealLocked seals the buffered frames as the next chunk and queues it.
func (w *SegmentWriter) sealLocked(last bool) error {
	_, err := w.sealChunk(last)
	return err
}

func (w *SegmentWriter) sealChunk(last bool) (*pchunk, error) {
	s := w.s
	if len(w.buf) == 0 && !last {
		return nil, nil
	}
	size := seal.SealedSize(len(w.buf))
	pc := &pchunk{w: w, seg: w.id, index: w.next, last: last, frames: w.nframes,
		first: w.bufFirst, end: w.bufLast, key: w.bufKey, size: size}
	s.mu.Lock()
	if s.failed != nil {
		err := s.failed
		s.mu.Unlock()
		return nil, err
	}
	pc.lsn = s.reserveLocked(size)
	s.pending = append(s.pending, pc)
	s.pendSz += size
	s.mu.Unlock()

	raw := w.sealer.Seal(s.sealBuf(size), seal.Header{Index: pc.index, Last: last, LSN: pc.lsn}, w.buf)
	w.next++
	w.buf = w.buf[:0]
	w.nframes = 0
	w.bufKey = false

	s.mu.Lock()
	pc.raw, pc.ready = raw, true
	s.cond.Broadcast()
	s.mu.Unlock()
	return pc, nil
}

// sealBuf returns an empty buffer with room for size sealed bytes, a
// recycled one when the pool has one large enough.
func (s *Store) sealBuf(size int) []byte {
	if p, ok := s.sealBufs.Get().(*[]byte); ok {
		if cap(*p) >= size {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, max(size, seal.SealedSize(s.chunkSize)))
}

// recycle gives the sealed buffers of a written batch back to the pool;
// nothing refers to them afterwards.
func (s *Store) recycle(batch []*pchunk) {
	for _, pc := range batch {
		if pc.pad || pc.raw == nil {
			continue
		}
		b := pc.raw[:0]
		pc.raw = nil
		s.sealBufs.Put(&b)
	}
}

// reserveLocked returns the LSN for size bytes, queueing a pad record first
// if they would cross the end of the lap.
func (s *Store) reserveLocked(size int) uint64 {
	if room := s.ring.Room(s.resLSN); uint64(size) > room {
		p := &pchunk{pad: true, lsn: s.resLSN, size: int(room), ready: true}
		if room >= seal.HeaderSize {
			p.raw = make([]byte, seal.HeaderSize)
			seal.PadHeader(s.resLSN, uint32(room-seal.HeaderSize)).Marshal(p.raw)
		}
		s.pending = append(s.pending, p)
		s.resLSN += room
	}
	l := s.resLSN
	s.resLSN += uint64(size)
	return l
}

// throttle blocks while too many sealed bytes wait for the flusher.
func (s *Store) throttle() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pendSz > s.maxPending {
		s.requestFlush()
		for s.pendSz > s.maxPending && s.failed == nil && !s.closed {
			s.cond.Wait()
		}
	}
	return s.failed
}

func (s *Store) requestFlush() {
	select {
	case s.flushReq <- struct{}{}:
	default:
	}
}

// Close seals the last chunk with the last flag and returns once it is
// synced and the index row is marked closed.
func (w *SegmentWriter) Close() error {
	s := w.s
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return fmt.Errorf("%w: segment %d", ErrClosed, w.id)
	}
	w.closed = true
	started := w.started
	var pc *pchunk
	var err error
	if started && !w.evicted.Load() {
		pc, err = w.sealChunk(true)
	}
	w.mu.Unlock()

	s.mu.Lock()
	if s.writers[w.camera] == w {
		delete(s.writers, w.camera)
	}
	if pc != nil {
		s.requestFlush()
		for !pc.done && s.failed == nil {
			s.cond.Wait()
		}
		if err == nil && !pc.done {
			err = s.failed
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if w.evicted.Load() {
		return fmt.Errorf("%w: segment %d of %s", ErrEvicted, w.id, w.camera)
	}
	if !started {
		return s.dropEmpty(w.id)
	}
	return nil
}

// dropEmpty removes the row of a segment that received no frame.
func (s *Store) dropEmpty(id uint64) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	err := s.idx.Update(func(tx *index.Tx) error {
		row, err := tx.Segment(id)
		if errors.Is(err, index.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if row.Chunks != 0 {
			return nil
		}
		h, err := tx.Head()
		if err != nil {
			return err
		}
		h.Segments--
		if err := tx.DeleteSegment(&row); err != nil {
			return err
		}
		return tx.PutHead(&h)
	})
	return wrapIndex(err)
}
