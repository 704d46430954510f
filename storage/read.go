package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/seal"
)

// chunkIter walks the chunks of one segment row in index order.
type chunkIter struct {
	s     *Store
	row   *index.Segment
	run   int
	inRun uint32
	pos   uint64
	c     uint32
}

func newChunkIter(s *Store, row *index.Segment, _ uint32) *chunkIter {
	it := &chunkIter{s: s, row: row}
	if len(row.Runs) > 0 {
		it.pos = row.Runs[0].LSN
	}
	return it
}

// seek positions the iterator at chunk k, using the keyframe index when it
// points there and walking chunk headers from the run start otherwise.
func (it *chunkIter) seek(k uint32) error {
	var cum uint32
	for r, run := range it.row.Runs {
		if k < cum+run.N {
			it.run, it.inRun, it.pos, it.c = r, 0, run.LSN, cum
			for _, kf := range it.row.Keys {
				if kf.Chunk == k && kf.Chunk >= cum {
					it.inRun, it.pos, it.c = k-cum, kf.LSN, k
					return nil
				}
			}
			for it.c < k {
				h, err := it.header()
				if err != nil {
					return err
				}
				if err := it.advance(seal.HeaderSize + int(h.Length)); err != nil {
					return err
				}
			}
			return nil
		}
		cum += run.N
	}
	return fmt.Errorf("%w: segment %d has no chunk %d", ErrCorrupt, it.row.ID, k)
}

func (it *chunkIter) header() (seal.Header, error) {
	b := make([]byte, seal.HeaderSize)
	var err error
	if it.row.InHold {
		err = it.s.ring.ReadHold(int64(it.pos), b)
	} else {
		err = it.s.ring.Read(it.pos, b)
	}
	if err != nil {
		return seal.Header{}, err
	}
	return seal.ParseHeader(b)
}

// read returns the raw chunk (header and ciphertext) at the iterator.
func (it *chunkIter) read(buf []byte) ([]byte, error) {
	if !it.row.InHold {
		_, raw, err := it.s.ring.ReadChunk(it.pos, buf)
		return raw, err
	}
	h, err := it.header()
	if err != nil {
		return nil, err
	}
	if h.Pad {
		return nil, fmt.Errorf("%w: pad record in the hold area", seal.ErrHeader)
	}
	raw := append(buf[:0], make([]byte, seal.HeaderSize+int(h.Length))...)
	if err := it.s.ring.ReadHold(int64(it.pos), raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func (it *chunkIter) advance(size int) error {
	it.c++
	it.inRun++
	if it.run < len(it.row.Runs) && it.inRun >= it.row.Runs[it.run].N {
		it.run++
		it.inRun = 0
		if it.run < len(it.row.Runs) {
			it.pos = it.row.Runs[it.run].LSN
		}
		return nil
	}
	it.pos += uint64(size)
	return nil
}

// overwritten reports whether bytes at lsn of a data-region row may have been
// overwritten by the ring since the row was read.
func (s *Store) overwritten(row *index.Segment, lsn uint64) bool {
	return !row.InHold && lsn < s.tail.Load()
}

var errOverwritten = errors.New("overwritten")

// readSegment authenticates and decodes the chunks of row from chunk k on.
func (s *Store) readSegment(ctx context.Context, row *index.Segment, sealer *seal.Segment, k uint32, fn func(Frame) error) error {
	if row.Chunks == 0 || k >= row.Chunks {
		return nil
	}
	it := newChunkIter(s, row, 0)
	if err := it.seek(k); err != nil {
		if s.overwritten(row, it.pos) {
			return errOverwritten
		}
		return s.tampered(row, k, err)
	}
	var prev int64 = -1 << 63
	for c := k; c < row.Chunks; c++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		lsn := it.pos
		if s.overwritten(row, lsn) {
			return errOverwritten
		}
		raw, err := it.read(nil)
		if err == nil {
			var h seal.Header
			var pt []byte
			pt, h, err = sealer.Open(nil, c, raw)
			if err == nil && s.overwritten(row, lsn) {
				return errOverwritten
			}
			if err == nil {
				switch {
				case h.Last && c != row.Chunks-1:
					err = fmt.Errorf("last flag on chunk %d of %d", c, row.Chunks)
				case c == row.Chunks-1 && row.Closed && !row.Recovered && !h.Last:
					err = fmt.Errorf("the last chunk has no last flag (truncated)")
				}
			}
			if err == nil {
				err = decodeFrames(pt, func(f Frame) error {
					if f.Time.UnixNano() < prev {
						return fmt.Errorf("%w: frame times go backwards", ErrCorrupt)
					}
					prev = f.Time.UnixNano()
					return fn(f)
				})
				if err != nil && !errors.Is(err, ErrCorrupt) {
					return err // the caller's error or stop
				}
			}
		}
		if err != nil {
			if s.overwritten(row, lsn) {
				return errOverwritten
			}
			return s.tampered(row, c, err)
		}
		if err := it.advance(len(raw)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) tampered(row *index.Segment, c uint32, err error) error {
	return fmt.Errorf("%w: camera %s segment %d chunk %d [%s, %s]: %v", ErrTampered, row.Camera, row.ID, c,
		ts(row.Start).Format(time.RFC3339Nano), ts(row.End).Format(time.RFC3339Nano), err)
}

var errStop = errors.New("stop")

// ReadFrames calls fn with the frames of camera in [from, to), starting at
// the keyframe at or before from. It stops at the first chunk that does not
// authenticate with an error wrapping ErrTampered that names the camera,
// segment and chunk; frames of a segment whose key was erased are refused
// with ErrKeyErased. Frame.Data may be retained by fn.
func (s *Store) ReadFrames(ctx context.Context, camera string, from, to time.Time, fn func(Frame) error) error {
	if !from.Before(to) {
		return fmt.Errorf("%w: empty range", ErrInvalid)
	}
	f, t := from.UnixNano(), to.UnixNano()
	var ids []uint64
	err := s.idx.View(func(tx *index.Tx) error {
		return tx.CameraSegments(camera, f, t, func(id uint64, _ int64) bool { ids = append(ids, id); return true })
	})
	if err != nil {
		return wrapIndex(err)
	}
	for _, id := range ids {
		err := s.readOne(ctx, id, func(row *index.Segment) (uint32, bool) {
			if row.End < f {
				return 0, false
			}
			var k uint32
			for _, kf := range row.Keys {
				if kf.T <= f {
					k = kf.Chunk
				}
			}
			return k, true
		}, func(fr Frame) error {
			if fr.Time.UnixNano() >= t {
				return errStop
			}
			return fn(fr)
		})
		if errors.Is(err, errStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadSegment calls fn with every frame of segment id.
func (s *Store) ReadSegment(ctx context.Context, id uint64, fn func(Frame) error) error {
	err := s.readOne(ctx, id, func(*index.Segment) (uint32, bool) { return 0, true }, fn)
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// readOne reads one segment; a segment overwritten by the ring while being
// read is re-read from its fresh row (it may have moved to the hold area)
// or skipped if it is gone.
func (s *Store) readOne(ctx context.Context, id uint64, start func(*index.Segment) (uint32, bool), fn func(Frame) error) error {
	delivered := 0
	for attempt := 0; attempt < 3; attempt++ {
		var row index.Segment
		var key []byte
		err := s.idx.View(func(tx *index.Tx) error {
			var err error
			row, err = tx.Segment(id)
			if err != nil {
				return err
			}
			key, err = s.segmentKey(tx, &row)
			return err
		})
		if errors.Is(err, index.ErrNotFound) {
			if attempt == 0 {
				return fmt.Errorf("%w: segment %d", ErrNotFound, id)
			}
			return nil // overwritten by the ring while we read it
		}
		if err != nil {
			return wrapIndex(err)
		}
		k, ok := start(&row)
		if !ok {
			return nil
		}
		sealer, err := seal.NewSegment(s.cipher, key, row.ID)
		clear(key)
		if err != nil {
			return err
		}
		n := 0
		err = s.readSegment(ctx, &row, sealer, k, func(f Frame) error {
			n++
			if n <= delivered {
				return nil // already handed out before a retry
			}
			delivered++
			return fn(f)
		})
		if !errors.Is(err, errOverwritten) {
			return err
		}
	}
	return nil
}

// SegmentInfo describes one indexed segment.
type SegmentInfo struct {
	ID          uint64
	Camera      string
	Start, End  time.Time
	Bytes       int64
	Frames      int
	Chunks      int
	Closed      bool
	Held        bool
	ClockSynced bool
	Recovered   bool // closed by crash recovery
	InHoldArea  bool // moved to the hold area by the ring
	// Codec: "h264" or "h265" (segments written before issue 18 say "h264").
	Codec string
}

func info(r *index.Segment) SegmentInfo {
	return SegmentInfo{ID: r.ID, Camera: r.Camera, Start: ts(r.Start), End: ts(r.End), Bytes: r.Bytes,
		Frames: int(r.Frames), Chunks: int(r.Chunks), Closed: r.Closed, Held: len(r.Holds) > 0,
		ClockSynced: r.Synced, Recovered: r.Recovered, InHoldArea: r.InHold, Codec: segCodec(r.Codec)}
}

// Segments lists the segments of camera ("" = every camera) overlapping
// [from, to), in start order per camera.
func (s *Store) Segments(ctx context.Context, camera string, from, to time.Time) ([]SegmentInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, t := from.UnixNano(), to.UnixNano()
	var out []SegmentInfo
	err := s.idx.View(func(tx *index.Tx) error {
		cams := []string{camera}
		if camera == "" {
			cams = tx.Cameras()
		}
		for _, c := range cams {
			var ierr error
			err := tx.CameraSegments(c, f, t, func(id uint64, _ int64) bool {
				row, err := tx.Segment(id)
				if err != nil {
					ierr = err
					return false
				}
				if row.End >= f && row.Chunks > 0 {
					out = append(out, info(&row))
				}
				return true
			})
			if err == nil {
				err = ierr
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, wrapIndex(err)
}

// Span is a stretch of continuous footage.
type Span struct{ From, To time.Time }

// CoverageGap bounds the space between two segments that Coverage still
// treats as continuous. Consecutive segments cut at a keyframe are one
// frame interval apart; the recorder cuts a segment at every hole longer
// than 1.5 frame intervals (issue 14), so Coverage joins two segments only
// when the space between them is at most 1.5 frame intervals of the
// earlier one (its duration over its frame count), and never more than
// CoverageGap.
const CoverageGap = time.Second

// joinTolerance is the largest space after g that still continues it.
func joinTolerance(g SegmentInfo) time.Duration {
	if g.Frames < 2 || !g.End.After(g.Start) {
		return CoverageGap
	}
	tol := g.End.Sub(g.Start) * 3 / time.Duration(2*(g.Frames-1))
	return min(max(tol, 10*time.Millisecond), CoverageGap)
}

// Coverage returns the timeline of camera in [from, to): spans of footage,
// clipped to the range; what lies between spans is a gap.
func (s *Store) Coverage(ctx context.Context, camera string, from, to time.Time) ([]Span, error) {
	segs, err := s.Segments(ctx, camera, from, to)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(segs, func(a, b SegmentInfo) int { return a.Start.Compare(b.Start) })
	var out []Span
	var tol time.Duration
	for _, g := range segs {
		a, b := g.Start, g.End
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.Before(a) {
			continue
		}
		joined := false
		if n := len(out); n > 0 && !a.After(out[n-1].To.Add(tol)) {
			if b.After(out[n-1].To) {
				out[n-1].To = b
			}
			joined = true
		}
		if !joined {
			out = append(out, Span{From: a, To: b})
		}
		if n := len(out); !b.Before(out[n-1].To) {
			tol = joinTolerance(g) // the tolerance of the segment that ends the span
		}
	}
	return out, nil
}

// segCodec names a row's codec; rows from before issue 18 have none and
// are H.264.
func segCodec(c string) string {
	if c == "" {
		return "h264"
	}
	return c
}
