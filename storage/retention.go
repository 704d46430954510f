package storage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/keys"
)

// EpochRef names an erased epoch.
type EpochRef struct {
	Camera string
	Day    string // UTC, 2006-01-02
	Gen    uint32
}

// RetentionReport says what ApplyRetention did.
type RetentionReport struct {
	Deleted      int        // segment rows removed
	ErasedEpochs []EpochRef // epoch keys destroyed (cryptographic erase)
	KeptHeld     int        // expired segments kept because a hold covers them
	Deferred     int        // expired epochs not erased yet (an open or straddling segment uses them)
}

// ApplyRetention enforces a maximum age per camera (R6). Segments whose last
// frame is older than now−maxAge leave the index at once; the key of a
// (camera, UTC day) epoch is destroyed, before its remaining rows are
// dropped, as soon as the whole day is older than now−maxAge and no open
// segment uses it. Crypto-erase of a segment therefore lags its removal from
// the index by at most one day; a policy that must meet a ceiling C exactly
// passes maxAge ≤ C − 24h. Held segments (R8) survive with their hold-wrapped
// key. Validation against the policy floor and ceiling is the caller's job.
func (s *Store) ApplyRetention(ctx context.Context, maxAge map[string]time.Duration) (RetentionReport, error) {
	var rep RetentionReport
	cams := make([]string, 0, len(maxAge))
	for c, a := range maxAge {
		if a <= 0 {
			return rep, fmt.Errorf("%w: retention for %s is %v", ErrInvalid, c, a)
		}
		cams = append(cams, c)
	}
	slices.Sort(cams)
	s.opMu.Lock()
	defer s.opMu.Unlock()
	now := s.now()
	for _, cam := range cams {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if err := s.retainCamera(cam, now.Add(-maxAge[cam]).UnixNano(), &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func dayBounds(day string) (int64, int64, error) {
	t, err := time.ParseInLocation(time.DateOnly, day, time.UTC)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: epoch day %q", ErrCorrupt, day)
	}
	return t.UnixNano(), t.Add(24 * time.Hour).UnixNano(), nil
}

func (s *Store) retainCamera(cam string, cutoff int64, rep *RetentionReport) error {
	var erase []index.Epoch
	err := s.idx.View(func(tx *index.Tx) error {
		return tx.Epochs(cam, func(e *index.Epoch) error {
			if e.Erased {
				return nil
			}
			d0, d1, err := dayBounds(e.Day)
			if err != nil {
				return err
			}
			if d1 > cutoff {
				return nil
			}
			ok := true
			err = tx.CameraSegments(cam, d0, d1, func(id uint64, start int64) bool {
				row, err := tx.Segment(id)
				if err != nil || row.EpochDay != e.Day || row.EpochGen != e.Gen {
					return true
				}
				if !row.Closed || (row.End >= cutoff && len(row.Holds) == 0) {
					ok = false
					return false
				}
				return true
			})
			if err != nil {
				return err
			}
			if ok {
				erase = append(erase, *e)
			} else {
				rep.Deferred++
			}
			return nil
		})
	})
	if err != nil {
		return wrapIndex(err)
	}
	// Keys first (cryptographic erase), rows second.
	for _, e := range erase {
		if err := s.ks.EraseEpoch(keys.EpochID{Camera: e.Camera, Day: e.Day, Gen: e.Gen}); err != nil {
			return fmt.Errorf("storage: retention: %w", err)
		}
		rep.ErasedEpochs = append(rep.ErasedEpochs, EpochRef{Camera: e.Camera, Day: e.Day, Gen: e.Gen})
	}
	erased := func(day string, gen uint32) bool {
		return slices.ContainsFunc(erase, func(e index.Epoch) bool { return e.Day == day && e.Gen == gen })
	}
	err = s.idx.Update(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		var del []index.Segment
		var ierr error
		err = tx.CameraSegments(cam, -1<<63, cutoff, func(id uint64, _ int64) bool {
			row, rerr := tx.Segment(id)
			if rerr != nil {
				ierr = rerr
				return false
			}
			expired := row.Closed && (row.End < cutoff || erased(row.EpochDay, row.EpochGen))
			if !expired {
				return true
			}
			if len(row.Holds) > 0 {
				rep.KeptHeld++
				return true
			}
			del = append(del, row)
			return true
		})
		if err == nil {
			err = ierr
		}
		if err != nil {
			return err
		}
		for i := range del {
			r := &del[i]
			h.Segments--
			h.Closed--
			if !r.InHold {
				h.Bytes -= r.Bytes
			}
			if err := tx.DeleteSegment(r); err != nil {
				return err
			}
			rep.Deleted++
		}
		now := s.now().UnixNano()
		for i := range erase {
			e := erase[i]
			e.Erased, e.ErasedAt = true, now
			if err := tx.PutEpoch(&e); err != nil {
				return err
			}
		}
		return tx.PutHead(&h)
	})
	if err != nil {
		return fmt.Errorf("storage: retention: %w", wrapIndex(err))
	}
	if len(erase) > 0 || rep.Deleted > 0 {
		s.log.Info("retention applied", "camera", cam, "erased_epochs", len(erase), "deleted_segments", rep.Deleted)
	}
	return nil
}

// Horizon is how long the ring holds footage at the observed bitrate (R7).
type Horizon struct {
	Known          bool          // false until there is footage to measure
	Duration       time.Duration // ring data size / observed rate
	BytesPerSecond float64       // sealed bytes per second of footage, all cameras
	RingBytes      int64
	Measured       time.Duration // span of footage the rate was measured over
}

// Below reports whether the horizon is known and shorter than floor (the
// caller raises the R7 alert).
func (h Horizon) Below(floor time.Duration) bool { return h.Known && h.Duration < floor }

// Horizon estimates the retention horizon from the footage in the log: its
// sealed bytes over the time span it covers.
func (s *Store) Horizon() Horizon {
	hz := Horizon{RingBytes: s.hdr.DataSize}
	var used, oldest int64
	_ = s.idx.View(func(tx *index.Tx) error {
		h, err := tx.Head()
		if err != nil {
			return err
		}
		used = h.Bytes
		return tx.InLog(func(_, id uint64) bool {
			if row, err := tx.Segment(id); err == nil {
				oldest = row.Start
			}
			return false
		})
	})
	newest := s.newestEnd.Load()
	if used <= 0 || oldest == 0 || newest <= oldest {
		return hz
	}
	span := time.Duration(newest - oldest)
	if span < time.Second {
		return hz
	}
	hz.Known = true
	hz.Measured = span
	hz.BytesPerSecond = float64(used) / span.Seconds()
	hz.Duration = time.Duration(float64(s.hdr.DataSize) / hz.BytesPerSecond * float64(time.Second))
	return hz
}
