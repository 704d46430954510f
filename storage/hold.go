package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/keys"
)

// HoldInfo describes a legal hold.
type HoldInfo struct {
	ID       uint64
	Camera   string
	From, To time.Time
	Ref      string
	Created  time.Time
	Segments []uint64
}

// Hold puts the segments of camera that overlap [from, to) under a legal
// hold (R8) for ref (the grant). Held segments survive retention (their key
// is wrapped again under a per-hold key) and ring overwrite (they are copied,
// still sealed, to the hold area before the ring reaches them). The hold
// area is bounded: if the segments may not fit next to those already held,
// Hold fails with ErrHoldFull. An open segment in the range is held with the
// bytes it has when it is copied; if it outgrows the reservation the ring
// stops with ErrHoldFull rather than overwrite it.
func (s *Store) Hold(ctx context.Context, camera string, from, to time.Time, ref string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if ref == "" || !from.Before(to) {
		return 0, fmt.Errorf("%w: a hold needs a reference and a non-empty range", ErrInvalid)
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	f, t := from.UnixNano(), to.UnixNano()
	var (
		id    uint64
		rows  []index.Segment
		skeys [][]byte
	)
	defer func() {
		for _, k := range skeys {
			clear(k)
		}
	}()
	err := s.idx.View(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		id = h.NextHold
		var ierr error
		err = tx.CameraSegments(camera, f, t, func(sid uint64, _ int64) bool {
			row, err := tx.Segment(sid)
			if err != nil {
				ierr = err
				return false
			}
			if row.End >= f && row.Chunks > 0 {
				rows = append(rows, row)
			}
			return true
		})
		if err == nil {
			err = ierr
		}
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("%w: no footage of %s in [%s, %s)", ErrNotFound, camera, from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
		// Hold-area budget: what is there, plus everything held but not moved yet.
		committed := h.HoldUsed
		seen := map[uint64]bool{}
		err = tx.Holds(func(ho *index.Hold) error {
			for _, sid := range ho.Segments {
				if seen[sid] {
					continue
				}
				seen[sid] = true
				if r, err := tx.Segment(sid); err == nil && !r.InHold {
					committed += r.Bytes
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		var need int64
		for i := range rows {
			if !rows[i].InHold && !seen[rows[i].ID] {
				need += rows[i].Bytes
			}
			k, err := s.segmentKey(tx, &rows[i])
			if err != nil {
				return err
			}
			skeys = append(skeys, k)
		}
		if committed+need > s.hdr.HoldSize {
			return fmt.Errorf("%w: the hold needs %d bytes, %d of %d are committed", ErrHoldFull, need, committed, s.hdr.HoldSize)
		}
		return nil
	})
	if err != nil {
		return 0, wrapIndex(err)
	}
	hk, err := s.ks.HoldKey(id, true)
	if err != nil {
		return 0, fmt.Errorf("storage: hold key: %w", err)
	}
	err = s.idx.Update(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		if h.NextHold != id {
			return fmt.Errorf("%w: hold id moved", index.ErrCorrupt)
		}
		h.NextHold++
		ho := index.Hold{ID: id, Camera: camera, From: f, To: t, Ref: ref, Created: s.now().UnixNano()}
		for i := range rows {
			row, err := tx.Segment(rows[i].ID)
			if err != nil {
				return err
			}
			w, err := keys.Wrap(hk, skeys[i], keys.SegmentAAD(row.ID))
			if err != nil {
				return err
			}
			if err := tx.PutHoldKey(id, row.ID, w); err != nil {
				return err
			}
			row.Holds = append(row.Holds, id)
			if err := tx.PutSegment(&row); err != nil {
				return err
			}
			ho.Segments = append(ho.Segments, row.ID)
		}
		if err := tx.PutHold(&ho); err != nil {
			return err
		}
		return tx.PutHead(&h)
	})
	if err != nil {
		_ = s.ks.EraseHold(id)
		return 0, fmt.Errorf("storage: hold: %w", wrapIndex(err))
	}
	s.log.Info("hold placed", "hold", id, "segments", len(rows))
	return id, nil
}

// ReleaseHold releases hold id; ref must be the reference it was placed with
// (ErrHoldRef otherwise). The hold key is destroyed first. A released
// segment that no other hold covers is dropped if it lives in the hold area
// or its epoch key is gone; otherwise it returns to normal retention.
func (s *Store) ReleaseHold(ctx context.Context, holdID uint64, ref string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	var ho index.Hold
	err := s.idx.View(func(tx *index.Tx) error {
		var err error
		ho, err = tx.Hold(holdID)
		return err
	})
	if errors.Is(err, index.ErrNotFound) {
		return fmt.Errorf("%w: hold %d", ErrNotFound, holdID)
	}
	if err != nil {
		return wrapIndex(err)
	}
	if ho.Ref != ref {
		return fmt.Errorf("%w: hold %d", ErrHoldRef, holdID)
	}
	if err := s.ks.EraseHold(holdID); err != nil {
		return fmt.Errorf("storage: release hold: %w", err)
	}
	err = s.idx.Update(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		exts, err := tx.Extents()
		if err != nil {
			return err
		}
		for _, sid := range ho.Segments {
			row, err := tx.Segment(sid)
			if errors.Is(err, index.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			row.Holds = slices.DeleteFunc(row.Holds, func(x uint64) bool { return x == holdID })
			drop := len(row.Holds) == 0 && (row.InHold ||
				!s.ks.EpochExists(keys.EpochID{Camera: row.Camera, Day: row.EpochDay, Gen: row.EpochGen}))
			if !drop {
				if err := tx.PutSegment(&row); err != nil {
					return err
				}
				continue
			}
			if row.InHold {
				for _, e := range exts {
					if e.Seg == row.ID {
						h.HoldUsed -= e.Len
						if err := tx.DeleteExtent(e.Off); err != nil {
							return err
						}
					}
				}
			} else {
				h.Bytes -= row.Bytes
			}
			h.Segments--
			if row.Closed {
				h.Closed--
			}
			if err := tx.DeleteSegment(&row); err != nil {
				return err
			}
		}
		if err := tx.DeleteHold(holdID); err != nil {
			return err
		}
		return tx.PutHead(&h)
	})
	if err != nil {
		return fmt.Errorf("storage: release hold: %w", wrapIndex(err))
	}
	s.log.Info("hold released", "hold", holdID)
	return nil
}

// Holds lists the holds.
func (s *Store) Holds(ctx context.Context) ([]HoldInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []HoldInfo
	err := s.idx.View(func(tx *index.Tx) error {
		return tx.Holds(func(h *index.Hold) error {
			out = append(out, HoldInfo{ID: h.ID, Camera: h.Camera, From: ts(h.From), To: ts(h.To), Ref: h.Ref,
				Created: ts(h.Created), Segments: slices.Clone(h.Segments)})
			return nil
		})
	})
	return out, wrapIndex(err)
}
