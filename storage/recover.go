package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/seal"
)

// RecoveryReport says what the last Open found after the synced log head.
type RecoveryReport struct {
	OpenSegments int           // segments that were open at the crash
	Chunks       int           // chunks found and kept after the head
	Bytes        int64         // bytes of the log they occupy
	Dropped      int           // open segments with no chunk at all (rows removed)
	StopReason   string        // why the scan stopped
	Took         time.Duration // duration of the recovery
}

// recover implements the crash procedure in doc.go in three named steps:
// load the open segments and their sealers, scan the ring from the head
// for the chunks that authenticate, and commit them to the index (closing
// the segments there).
func (s *Store) recover(ctx context.Context) error {
	t0 := time.Now()
	opens, head, err := s.recoveryOpenSegments()
	if err != nil {
		return fmt.Errorf("storage: recovery: %w", wrapIndex(err))
	}
	rep := RecoveryReport{OpenSegments: len(opens)}
	kept, end, err := s.recoveryScan(ctx, opens, head.LSN, &rep)
	if err != nil {
		return err
	}
	if err := s.recoveryCommit(opens, kept, end, &rep); err != nil {
		return fmt.Errorf("storage: recovery: %w", wrapIndex(err))
	}
	s.resLSN = end
	s.setTail(end)
	rep.Took = time.Since(t0)
	s.lastRecovery = rep
	if rep.OpenSegments > 0 || rep.Chunks > 0 {
		s.log.Info("storage recovered", "open_segments", rep.OpenSegments, "chunks", rep.Chunks,
			"bytes", rep.Bytes, "dropped_empty", rep.Dropped, "stop", rep.StopReason, "took", rep.Took)
	}
	return nil
}

// recoveryOpen is a segment that was open at the crash: its index row (as
// the scan advances it) and its sealer.
type recoveryOpen struct {
	row    index.Segment
	sealer *seal.Segment
}

// recoveryChunk is a chunk the scan kept.
type recoveryChunk struct {
	seg          uint64
	lsn          uint64
	size, frames int
	first, end   int64
	key, last    bool
}

// recoveryOpenSegments reads the head and, for every open segment, its row
// and a sealer under its key.
func (s *Store) recoveryOpenSegments() (map[uint64]*recoveryOpen, index.Head, error) {
	opens := map[uint64]*recoveryOpen{}
	var head index.Head
	err := s.idx.View(func(tx *index.Tx) error {
		var err error
		head, err = tx.Head()
		if err != nil {
			return err
		}
		for _, id := range tx.OpenSegments() {
			row, err := tx.Segment(id)
			if err != nil {
				return fmt.Errorf("open segment %d: %w", id, err)
			}
			key, err := s.segmentKey(tx, &row)
			if err != nil {
				return fmt.Errorf("open segment %d: %w", id, err)
			}
			sl, err := seal.NewSegment(s.cipher, key, id)
			clear(key)
			if err != nil {
				return err
			}
			opens[id] = &recoveryOpen{row: row, sealer: sl}
		}
		return nil
	})
	return opens, head, err
}

// recoveryScan reads chunks from lsn for at most one lap and keeps, in
// order, every chunk of an open segment that is the next expected one and
// authenticates; it stops at the first that is not (the reason goes into
// rep). It returns the kept chunks and the LSN after the last one read.
func (s *Store) recoveryScan(ctx context.Context, opens map[uint64]*recoveryOpen, lsn uint64, rep *RecoveryReport) ([]recoveryChunk, uint64, error) {
	var kept []recoveryChunk
	var buf []byte
	limit := lsn + uint64(s.hdr.DataSize)
	for lsn < limit {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if room := s.ring.Room(lsn); room < seal.HeaderSize {
			lsn += room
			continue
		}
		h, raw, err := s.ring.ReadChunk(lsn, buf)
		if err != nil {
			if !errors.Is(err, seal.ErrHeader) {
				return nil, 0, fmt.Errorf("storage: recovery: %w: %w", ErrIO, err)
			}
			rep.StopReason = err.Error()
			break
		}
		if h.Pad {
			if uint64(seal.HeaderSize)+uint64(h.Length) != s.ring.Room(lsn) {
				rep.StopReason = fmt.Sprintf("pad at lsn %d does not end the lap", lsn)
				break
			}
			lsn += s.ring.Room(lsn)
			continue
		}
		size := len(raw)
		o := opens[h.Segment]
		if o == nil {
			// Evicted while open, or bytes we must not interpret: skip a
			// well-formed chunk without decrypting or indexing it.
			lsn += uint64(size)
			continue
		}
		if o.row.Closed || h.Index != o.row.Chunks {
			rep.StopReason = fmt.Sprintf("segment %d chunk %d at lsn %d, expected chunk %d", h.Segment, h.Index, lsn, o.row.Chunks)
			break
		}
		f, reason := openRecoveredChunk(o, h, raw, lsn)
		if reason != "" {
			rep.StopReason = reason
			break
		}
		kept = append(kept, f)
		o.row.Chunks++ // expected index for the next chunk
		if h.Last {
			o.row.Closed = true
		}
		lsn += uint64(size)
		rep.Chunks++
		rep.Bytes += int64(size)
	}
	if rep.StopReason == "" {
		rep.StopReason = "scanned a full lap"
	}
	return kept, lsn, nil
}

// openRecoveredChunk authenticates and decodes one chunk of an open
// segment; a non-empty reason means the scan stops there.
func openRecoveredChunk(o *recoveryOpen, h seal.Header, raw []byte, lsn uint64) (recoveryChunk, string) {
	pt, _, err := o.sealer.Open(nil, h.Index, raw)
	if err != nil {
		return recoveryChunk{}, fmt.Sprintf("chunk at lsn %d does not authenticate", lsn)
	}
	f := recoveryChunk{seg: h.Segment, lsn: lsn, size: len(raw), last: h.Last}
	err = decodeFrames(pt, func(fr Frame) error {
		t := fr.Time.UnixNano()
		if f.frames == 0 {
			f.first, f.key = t, fr.Key
		}
		f.end = t
		f.frames++
		return nil
	})
	if err != nil {
		return recoveryChunk{}, fmt.Sprintf("chunk at lsn %d: %v", lsn, err)
	}
	return f, ""
}

// recoveryCommit applies the kept chunks to the open segments' rows in one
// transaction, drops the segments that kept no chunk, closes the others
// (marked recovered) and moves the head to end.
func (s *Store) recoveryCommit(opens map[uint64]*recoveryOpen, kept []recoveryChunk, end uint64, rep *RecoveryReport) error {
	return s.idx.Update(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		rows := map[uint64]*index.Segment{}
		for id := range opens {
			r, err := tx.Segment(id)
			if err != nil {
				return err
			}
			rows[id] = &r
		}
		for _, f := range kept {
			if err := applyChunk(tx, rows[f.seg], &h, f.lsn, f.size, f.frames, f.first, f.end, f.key, f.last); err != nil {
				return err
			}
		}
		for _, r := range rows {
			if r.Chunks == 0 {
				h.Segments--
				rep.Dropped++
				if err := tx.DeleteSegment(r); err != nil {
					return err
				}
				continue
			}
			if !r.Closed {
				r.Closed, r.Recovered = true, true
				h.Closed++
				if err := tx.SetOpen(r.ID, false); err != nil {
					return err
				}
			}
			if err := tx.PutSegment(r); err != nil {
				return err
			}
			if r.End > s.newestEnd.Load() {
				s.newestEnd.Store(r.End)
			}
		}
		h.LSN = end
		return tx.PutHead(&h)
	})
}

// LastRecovery reports what Open's crash recovery did.
func (s *Store) LastRecovery() RecoveryReport { return s.lastRecovery }
