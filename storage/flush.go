package storage

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/seal"
)

func (s *Store) flusher() {
	defer close(s.done)
	t := time.NewTicker(s.flushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.flush()
			return
		case <-t.C:
		case <-s.flushReq:
		}
		s.flush()
	}
}

// flush seals the partial chunks of every writer, then writes, syncs and
// indexes everything queued.
func (s *Store) flush() {
	// t0 is taken before the writers are sealed: the "flush" log record's
	// time minus "took" is then a moment before which every acknowledged
	// frame is in this flush (the crash test relies on it; taking it after
	// the seal let a frame acknowledged in between look lost).
	t0 := time.Now()
	s.mu.Lock()
	ws := make([]*SegmentWriter, 0, len(s.writers))
	for _, w := range s.writers {
		if w.s != nil {
			ws = append(ws, w)
		}
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		if !w.closed && len(w.buf) > 0 && !w.evicted.Load() {
			_ = w.sealLocked(false) // an error here is the store's failure, reported to writers
		}
		w.mu.Unlock()
	}

	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	if s.failed != nil || len(s.pending) == 0 {
		s.mu.Unlock()
		return
	}
	batch := s.pending
	s.pending = nil
	s.pendSz = 0
	s.cond.Broadcast()
	for !allReady(batch) && s.failed == nil {
		s.cond.Wait()
	}
	s.mu.Unlock()

	err := s.writeBatch(batch)
	s.recycle(batch)
	s.log.Debug("flush", "chunks", len(batch), "took", time.Since(t0))
	s.mu.Lock()
	if err == nil {
		for _, pc := range batch {
			pc.done = true
		}
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	if err != nil {
		s.fail(err)
	}
}

func allReady(b []*pchunk) bool {
	for _, pc := range b {
		if !pc.ready {
			return false
		}
	}
	return true
}

func (s *Store) writeBatch(batch []*pchunk) error {
	last := batch[len(batch)-1]
	end := last.lsn + uint64(last.size)

	// Invariant 2: the rows of what we are about to overwrite go first.
	if err := s.evict(end); err != nil {
		return err
	}
	s.setTail(end)

	// Sequential writes in LSN order: large chunks go straight from their
	// sealed buffer; small ones (and pad headers) are coalesced.
	if s.flushBuf == nil {
		s.flushBuf = make([]byte, 0, 64<<10)
	}
	buf := s.flushBuf[:0]
	var at uint64
	put := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := s.ring.Write(at, buf)
		buf = buf[:0]
		return err
	}
	for _, pc := range batch {
		if len(buf) > 0 && (at+uint64(len(buf)) != pc.lsn || len(buf)+len(pc.raw) > cap(buf)) {
			if err := put(); err != nil {
				return err
			}
		}
		if len(pc.raw) >= cap(buf) {
			if err := s.ring.Write(pc.lsn, pc.raw); err != nil {
				return err
			}
			continue
		}
		if len(buf) == 0 {
			at = pc.lsn
		}
		buf = append(buf, pc.raw...)
		if pc.pad {
			if err := put(); err != nil {
				return err
			}
		}
	}
	if err := put(); err != nil {
		return err
	}
	if err := s.ring.Sync(); err != nil {
		return err
	}

	// Invariant 1: rows describe synced bytes only.
	var newest int64
	err := s.idx.Update(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		rows := map[uint64]*index.Segment{}
		var order []uint64
		for _, pc := range batch {
			if pc.pad {
				continue
			}
			row := rows[pc.seg]
			if row == nil {
				r, err := tx.Segment(pc.seg)
				if errors.Is(err, index.ErrNotFound) {
					continue // evicted while open: orphan bytes, never indexed
				}
				if err != nil {
					return err
				}
				row = &r
				rows[pc.seg] = row
				order = append(order, pc.seg)
			}
			if row.Closed || row.InHold {
				continue // cut by eviction into the hold area
			}
			if pc.index != row.Chunks {
				return fmt.Errorf("%w: segment %d: chunk %d queued, row has %d", ErrCorrupt, row.ID, pc.index, row.Chunks)
			}
			if err := applyChunk(tx, row, &h, pc.lsn, pc.size, pc.frames, pc.first, pc.end, pc.key, pc.last); err != nil {
				return err
			}
			newest = max(newest, row.End)
		}
		for _, id := range order {
			if err := tx.PutSegment(rows[id]); err != nil {
				return err
			}
		}
		h.LSN = end
		return tx.PutHead(&h)
	})
	if err != nil {
		return fmt.Errorf("storage: index commit: %w", wrapIndex(err))
	}
	if newest > s.newestEnd.Load() {
		s.newestEnd.Store(newest)
	}
	return nil
}

// applyChunk extends row (in tx) with one synced, authenticated chunk.
func applyChunk(tx *index.Tx, row *index.Segment, h *index.Head, lsn uint64, size, frames int, first, end int64, key, last bool) error {
	if row.Chunks == 0 {
		row.FirstLSN = lsn
		row.Runs = []index.Run{{LSN: lsn, N: 1}}
		if err := tx.SetInLog(row, true); err != nil {
			return err
		}
	} else if row.NextLSN == lsn {
		row.Runs[len(row.Runs)-1].N++
	} else {
		row.Runs = append(row.Runs, index.Run{LSN: lsn, N: 1})
	}
	if key {
		row.Keys = append(row.Keys, index.KeyFrame{T: first, Chunk: row.Chunks, LSN: lsn})
	}
	row.NextLSN = lsn + uint64(size)
	row.Chunks++
	row.Frames += uint32(frames)
	row.Bytes += int64(size)
	h.Bytes += int64(size)
	if frames > 0 && end > row.End {
		row.End = end
	}
	if last {
		row.Closed = true
		h.Closed++
		if err := tx.SetOpen(row.ID, false); err != nil {
			return err
		}
	}
	return nil
}

// evict removes (or moves to the hold area) every segment whose bytes lie
// in the region that writing up to end will overwrite, and commits that
// before returning. Named steps: find the victims, copy the held ones to
// the hold area (synced before any row points there), commit the index,
// then tell the writers of open segments that were cut.
func (s *Store) evict(end uint64) error {
	if end <= uint64(s.hdr.DataSize) {
		return nil
	}
	victims, err := s.evictVictims(end - uint64(s.hdr.DataSize))
	if err != nil || len(victims) == 0 {
		return wrapIndex(err)
	}
	moved, err := s.evictToHold(victims)
	if err != nil {
		return err
	}
	cut, err := s.evictCommit(victims, moved)
	if err != nil {
		return fmt.Errorf("storage: evict: %w", wrapIndex(err))
	}
	s.evictNotifyWriters(cut)
	return nil
}

// evictVictims returns the rows of the segments that start in the log
// before limit.
func (s *Store) evictVictims(limit uint64) ([]index.Segment, error) {
	var victims []index.Segment
	err := s.idx.View(func(tx *index.Tx) error {
		var ierr error
		err := tx.InLog(func(first, id uint64) bool {
			if first >= limit {
				return false
			}
			row, err := tx.Segment(id)
			if err != nil {
				ierr = err
				return false
			}
			victims = append(victims, row)
			return true
		})
		if err != nil {
			return err
		}
		return ierr
	})
	return victims, err
}

// evictToHold copies every held victim to the hold area (first fit) and
// syncs; it returns the extent of each by segment id. A held segment that
// does not fit stops the ring (ErrHoldFull): held footage is never
// overwritten (R8).
func (s *Store) evictToHold(victims []index.Segment) (map[uint64]*index.HoldExtent, error) {
	moved := map[uint64]*index.HoldExtent{}
	var exts []index.HoldExtent
	if err := s.idx.View(func(tx *index.Tx) error {
		var err error
		exts, err = tx.Extents()
		return err
	}); err != nil {
		return nil, wrapIndex(err)
	}
	for i := range victims {
		row := &victims[i]
		if len(row.Holds) == 0 {
			continue
		}
		off, ok := allocHold(exts, row.Bytes, s.hdr.HoldSize)
		if !ok {
			return nil, fmt.Errorf("%w: held segment %d of %s (%d bytes) does not fit; the ring cannot advance until a hold is released",
				ErrHoldFull, row.ID, row.Camera, row.Bytes)
		}
		if err := s.copyToHold(row, off); err != nil {
			return nil, err
		}
		e := index.HoldExtent{Off: off, Len: row.Bytes, Seg: row.ID}
		exts = append(exts, e)
		slices.SortFunc(exts, func(a, b index.HoldExtent) int { return int(a.Off - b.Off) })
		moved[row.ID] = &e
	}
	if len(moved) > 0 {
		if err := s.ring.Sync(); err != nil {
			return nil, err
		}
	}
	return moved, nil
}

// evictCommit takes the victims out of the log in one transaction: a moved
// one points at its hold extent (closed, marked recovered, if it was
// open), the others are deleted. It returns the ids of the open segments
// that were cut.
func (s *Store) evictCommit(victims []index.Segment, moved map[uint64]*index.HoldExtent) ([]uint64, error) {
	var cut []uint64
	err := s.idx.Update(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		for i := range victims {
			v := &victims[i]
			row, err := tx.Segment(v.ID)
			if err != nil {
				return err
			}
			if err := tx.SetInLog(&row, false); err != nil {
				return err
			}
			h.Bytes -= row.Bytes
			if !row.Closed {
				cut = append(cut, row.ID)
			}
			if e := moved[row.ID]; e != nil {
				if err := evictMoveRow(tx, &h, &row, v, e); err != nil {
					return err
				}
				continue
			}
			h.Segments--
			if row.Closed {
				h.Closed--
			}
			if err := tx.DeleteSegment(&row); err != nil {
				return err
			}
		}
		return tx.PutHead(&h)
	})
	return cut, err
}

// evictMoveRow points row at its hold extent e (v holds the keys
// copyToHold rewrapped).
func evictMoveRow(tx *index.Tx, h *index.Head, row, v *index.Segment, e *index.HoldExtent) error {
	row.InHold = true
	row.Runs = []index.Run{{LSN: uint64(e.Off), N: row.Chunks}}
	row.Keys = v.Keys // rewritten by copyToHold
	if !row.Closed {
		row.Closed, row.Recovered = true, true
		h.Closed++
		if err := tx.SetOpen(row.ID, false); err != nil {
			return err
		}
	}
	h.HoldUsed += e.Len
	if err := tx.PutExtent(e); err != nil {
		return err
	}
	return tx.PutSegment(row)
}

// evictNotifyWriters marks the writers of cut open segments evicted.
func (s *Store) evictNotifyWriters(cut []uint64) {
	if len(cut) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.writers {
		if slices.Contains(cut, w.id) && w.s != nil {
			w.evicted.Store(true)
			s.log.Warn("open segment overwritten by the ring; it is longer than the ring holds", "segment", w.id)
		}
	}
}

// allocHold finds size bytes in the hold area (first fit).
func allocHold(exts []index.HoldExtent, size, total int64) (int64, bool) {
	var at int64
	for _, e := range exts {
		if e.Off-at >= size {
			return at, true
		}
		at = max(at, e.Off+e.Len)
	}
	if total-at >= size {
		return at, true
	}
	return 0, false
}

// copyToHold copies the synced chunks of row, still sealed and byte for
// byte, to off in the hold area, and rewrites row.Keys to hold offsets.
func (s *Store) copyToHold(row *index.Segment, off int64) error {
	pos := off
	keys := make([]index.KeyFrame, 0, len(row.Keys))
	ki := 0
	it := newChunkIter(s, row, 0)
	var buf []byte
	for c := uint32(0); c < row.Chunks; c++ {
		raw, err := it.read(buf)
		if err != nil {
			return fmt.Errorf("storage: copy segment %d to the hold area: %w", row.ID, err)
		}
		h, _ := seal.ParseHeader(raw)
		if h.Segment != row.ID || h.Index != c {
			return fmt.Errorf("%w: segment %d chunk %d: header names segment %d chunk %d", ErrCorrupt, row.ID, c, h.Segment, h.Index)
		}
		if err := s.ring.WriteHold(pos, raw); err != nil {
			return err
		}
		for ki < len(row.Keys) && row.Keys[ki].Chunk == c {
			k := row.Keys[ki]
			k.LSN = uint64(pos)
			keys = append(keys, k)
			ki++
		}
		pos += int64(len(raw))
		buf = raw
		if err := it.advance(len(raw)); err != nil {
			return err
		}
	}
	row.Keys = keys
	return nil
}
