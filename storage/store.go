package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/ring"
	"github.com/edgerec/edgerec/storage/seal"
)

// Options configures Open.
type Options struct {
	FlushInterval time.Duration    // default 1s
	Now           func() time.Time // injected clock; nil = time.Now
	Logger        *slog.Logger     // nil = discard

	// ChunkSize is the plaintext size at which a chunk is sealed (default
	// 256 KiB). Tests use small chunks.
	ChunkSize int
	// RingFile, if set, wraps the ring file (fault injection in tests).
	RingFile func(ring.File) ring.File
	// Keys gives the root key provider recorded in the ring header (nil:
	// only the file provider). Issue 13: never a fallback to another one.
	Keys KeyProviders
}

// DefaultChunkSize is the default plaintext size of a chunk.
const DefaultChunkSize = 256 << 10

// MaxFrameSize bounds one frame (an access unit); larger frames are refused.
const MaxFrameSize = 4 << 20

// Frame is one access unit.
type Frame struct {
	Time time.Time // wall-clock capture time (monotone within a segment)
	Key  bool      // keyframe (IDR with SPS/PPS in band): a reader can start here
	Data []byte    // H.264 Annex-B access unit (opaque to storage)
}

// SegmentMeta describes a segment at BeginSegment.
type SegmentMeta struct {
	Camera      string
	Start       time.Time
	ClockSynced bool
	// Codec of the frames: "" or "h264" (H.264), "h265" (H.265/HEVC,
	// issue 18). Storage keeps it and does not look at the frames.
	Codec string
}

// Store is an open recording store. It is safe for concurrent use.
type Store struct {
	dir        string
	log        *slog.Logger
	now        func() time.Time
	flushEvery time.Duration
	chunkSize  int
	maxPending int
	readOnly   bool

	ring   *ring.Ring
	hdr    ring.Header
	cipher seal.Cipher
	idx    *index.DB
	ks     *keys.Store
	vault  *keys.Vault // nil only for a read-only open of a store without a vault key

	// opMu serializes everything that changes the index or the hold area:
	// flushes, BeginSegment, retention, holds.
	opMu sync.Mutex

	// sealBufs recycles the buffers of sealed chunks once the flusher has
	// written them (issue 14: a fresh buffer per chunk was a fifth of a
	// passthrough camera's allocations). It holds *[]byte; the GC may
	// empty it, so an idle store keeps nothing.
	sealBufs sync.Pool
	// flushBuf coalesces small chunks in writeBatch (the flusher's own,
	// under opMu).
	flushBuf []byte

	mu      sync.Mutex
	cond    *sync.Cond
	pending []*pchunk
	pendSz  int
	resLSN  uint64 // next LSN to reserve
	writers map[string]*SegmentWriter
	closed  bool
	failed  error

	tail      atomic.Uint64 // lowest LSN whose bytes are intact
	newestEnd atomic.Int64  // newest frame time indexed (unix ns)

	lastRecovery RecoveryReport

	flushReq chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

// Open opens the store in dir and runs crash recovery. It refuses to start
// on anything it cannot read (ring header, root key, index, key files).
func Open(ctx context.Context, dir string, o Options) (*Store, error) {
	s, err := open(ctx, dir, o, false)
	if err != nil {
		return nil, err
	}
	if err := s.recover(ctx); err != nil {
		s.closeFiles()
		return nil, err
	}
	s.done = make(chan struct{})
	go s.flusher()
	return s, nil
}

func open(ctx context.Context, dir string, o Options, readOnly bool) (_ *Store, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkWiped(dir); err != nil { // wipe.go
		return nil, err
	}
	if exists(filepath.Join(dir, RekeyMarkerFile)) { // rekey.go
		return nil, ErrRekeyInProgress
	}
	for _, n := range []string{IndexFile, RingFile} {
		if _, err := os.Stat(filepath.Join(dir, n)); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no %s", ErrNotProvisioned, dir, n)
		}
	}
	s := &Store{
		dir:        dir,
		log:        o.Logger,
		now:        o.Now,
		flushEvery: o.FlushInterval,
		chunkSize:  o.ChunkSize,
		readOnly:   readOnly,
		writers:    map[string]*SegmentWriter{},
		flushReq:   make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	s.cond = sync.NewCond(&s.mu)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.flushEvery <= 0 {
		s.flushEvery = time.Second
	}
	if s.chunkSize <= 0 {
		s.chunkSize = DefaultChunkSize
	}
	defer func() {
		if err != nil {
			s.closeFiles()
		}
	}()
	s.ring, err = ring.Open(filepath.Join(dir, RingFile), readOnly, o.RingFile)
	if err != nil {
		if errors.Is(err, ring.ErrCorrupt) {
			return nil, fmt.Errorf("%w: ring header: %w", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("storage: open ring: %w", err)
	}
	s.hdr = s.ring.Header()
	s.cipher = s.hdr.Cipher
	s.maxPending = int(min(int64(8<<20), s.hdr.DataSize/4))
	s.chunkSize = min(s.chunkSize, s.maxPending/2)

	root, err := loadRoot(ctx, dir, o.Keys, s.hdr)
	if err != nil {
		return nil, err
	}
	defer clear(root)
	s.ks, err = keys.Open(filepath.Join(dir, KeysDir), root, readOnly)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if s.vault, err = s.ks.Vault(); err != nil && !(readOnly && errors.Is(err, keys.ErrErased)) {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	s.idx, err = index.Open(filepath.Join(dir, IndexFile), readOnly)
	if err != nil {
		if errors.Is(err, index.ErrCorrupt) {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("storage: %w", err)
	}
	var head index.Head
	err = s.idx.View(func(tx *index.Tx) error {
		var err error
		head, err = tx.Head()
		if err != nil {
			return err
		}
		if string(head.RingID) != string(s.hdr.RingID[:]) {
			return fmt.Errorf("%w: the index belongs to another ring", index.ErrCorrupt)
		}
		// Newest indexed footage, for the horizon.
		var newest int64
		for _, c := range tx.Cameras() {
			if id := tx.SegmentAt(c, 1<<62); id != 0 {
				if sg, err := tx.Segment(id); err == nil {
					newest = max(newest, sg.End)
				}
			}
		}
		s.newestEnd.Store(newest)
		return nil
	})
	if err != nil {
		return nil, wrapIndex(err)
	}
	s.resLSN = head.LSN
	s.setTail(head.LSN)
	return s, nil
}

func wrapIndex(err error) error {
	if errors.Is(err, index.ErrCorrupt) && !errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

func (s *Store) setTail(end uint64) {
	if end > uint64(s.hdr.DataSize) {
		s.tail.Store(end - uint64(s.hdr.DataSize))
	} else {
		s.tail.Store(0)
	}
}

func (s *Store) closeFiles() {
	if s.idx != nil {
		s.idx.Close()
	}
	if s.ring != nil {
		s.ring.Close()
	}
	if s.ks != nil {
		s.ks.Close()
	}
}

// Close closes every open segment cleanly (last flag, synced, row closed),
// stops the flusher and closes the files. It returns the store's failure, if
// it had one.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("%w: store already closed", ErrClosed)
	}
	ws := make([]*SegmentWriter, 0, len(s.writers))
	for _, w := range s.writers {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	var errs []error
	for _, w := range ws {
		if err := w.Close(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.mu.Lock()
	s.closed = true
	failed := s.failed
	s.cond.Broadcast()
	s.mu.Unlock()
	if s.done != nil {
		close(s.stop)
		<-s.done
	}
	if failed != nil {
		errs = append(errs, failed)
	}
	if err := s.idx.Close(); err != nil {
		errs = append(errs, fmt.Errorf("storage: close index: %w", err))
	}
	if !s.readOnly {
		if err := s.ring.Sync(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.ring.Close(); err != nil {
		errs = append(errs, err)
	}
	s.ks.Close()
	return errors.Join(errs...)
}

// fail stops the store after an unrecoverable error (I/O, corruption):
// every later write returns it.
func (s *Store) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrHoldFull) {
			err = fmt.Errorf("%w: %w", ErrIO, err)
		}
		s.failed = err
		s.log.Error("storage stopped", "err", err)
	}
	s.cond.Broadcast()
	return s.failed
}

// Stats is a snapshot of the store's size and content.
type Stats struct {
	Cipher         string
	RingBytes      int64 // size of the data region (the circular log)
	UsedBytes      int64 // sealed bytes of indexed segments in the log
	HoldBytes      int64 // size of the hold area
	HoldUsed       int64
	Segments       int64
	ClosedSegments int64
	Oldest         time.Time // oldest indexed footage (zero if none)
	Newest         time.Time
	HeadLSN        uint64
	Failed         error // non-nil when the store stopped after an error
}

// Stats returns a snapshot.
func (s *Store) Stats() Stats {
	st := Stats{Cipher: s.cipher.String(), RingBytes: s.hdr.DataSize, HoldBytes: s.hdr.HoldSize}
	_ = s.idx.View(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		st.UsedBytes, st.HoldUsed, st.Segments, st.ClosedSegments, st.HeadLSN = h.Bytes, h.HoldUsed, h.Segments, h.Closed, h.LSN
		var oldest int64
		for _, c := range tx.Cameras() {
			if id := tx.FirstSegment(c); id != 0 {
				if sg, err := tx.Segment(id); err == nil && (oldest == 0 || sg.Start < oldest) {
					oldest = sg.Start
				}
			}
		}
		if oldest != 0 {
			st.Oldest = time.Unix(0, oldest).UTC()
		}
		return nil
	})
	if n := s.newestEnd.Load(); n != 0 {
		st.Newest = time.Unix(0, n).UTC()
	}
	s.mu.Lock()
	st.Failed = s.failed
	s.mu.Unlock()
	return st
}

// segmentKey returns the segment key of row: unwrapped by its epoch key, or,
// when the epoch was erased, by the key of a hold on it.
func (s *Store) segmentKey(tx *index.Tx, row *index.Segment) ([]byte, error) {
	ek, err := s.ks.EpochKey(keys.EpochID{Camera: row.Camera, Day: row.EpochDay, Gen: row.EpochGen}, false)
	if err == nil {
		k, err := keys.Unwrap(ek, row.Key, keys.SegmentAAD(row.ID))
		if err != nil {
			return nil, fmt.Errorf("%w: segment %d key: %w", ErrCorrupt, row.ID, err)
		}
		return k, nil
	}
	if !errors.Is(err, keys.ErrErased) {
		return nil, fmt.Errorf("%w: epoch key of segment %d: %w", ErrCorrupt, row.ID, err)
	}
	for _, hid := range row.Holds {
		w := tx.HoldKey(hid, row.ID)
		if w == nil {
			continue
		}
		hk, err := s.ks.HoldKey(hid, false)
		if err != nil {
			continue
		}
		k, err := keys.Unwrap(hk, w, keys.SegmentAAD(row.ID))
		if err != nil {
			return nil, fmt.Errorf("%w: segment %d key under hold %d: %w", ErrCorrupt, row.ID, hid, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: camera %s segment %d (epoch %s)", ErrKeyErased, row.Camera, row.ID, row.EpochDay)
}

func ts(ns int64) time.Time { return time.Unix(0, ns).UTC() }
