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

// recover implements the crash procedure in doc.go.
func (s *Store) recover(ctx context.Context) error {
	t0 := time.Now()
	type openSeg struct {
		row    index.Segment
		sealer *seal.Segment
	}
	opens := map[uint64]*openSeg{}
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
			opens[id] = &openSeg{row: row, sealer: sl}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: recovery: %w", wrapIndex(err))
	}
	rep := RecoveryReport{OpenSegments: len(opens)}
	type found struct {
		seg          uint64
		lsn          uint64
		size, frames int
		first, end   int64
		key, last    bool
	}
	var kept []found
	lsn := head.LSN
	var buf []byte
	limit := head.LSN + uint64(s.hdr.DataSize)
scan:
	for lsn < limit {
		if err := ctx.Err(); err != nil {
			return err
		}
		if room := s.ring.Room(lsn); room < seal.HeaderSize {
			lsn += room
			continue
		}
		h, raw, err := s.ring.ReadChunk(lsn, buf)
		if err != nil {
			if !errors.Is(err, seal.ErrHeader) {
				return fmt.Errorf("storage: recovery: %w: %w", ErrIO, err)
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
		pt, _, err := o.sealer.Open(nil, h.Index, raw)
		if err != nil {
			rep.StopReason = fmt.Sprintf("chunk at lsn %d does not authenticate", lsn)
			break
		}
		f := found{seg: h.Segment, lsn: lsn, size: size, last: h.Last}
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
			rep.StopReason = fmt.Sprintf("chunk at lsn %d: %v", lsn, err)
			break scan
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
	end := lsn
	err = s.idx.Update(func(tx *index.Tx) error {
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
	if err != nil {
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

// LastRecovery reports what Open's crash recovery did.
func (s *Store) LastRecovery() RecoveryReport { return s.lastRecovery }
