package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/edgerec/edgerec/storage/index"
	"github.com/edgerec/edgerec/storage/keys"
	"github.com/edgerec/edgerec/storage/seal"
)

// CheckOptions configures Check.
type CheckOptions struct {
	// Quick authenticates a sample of chunks per segment (first, middle,
	// last) instead of every chunk, and skips bbolt's page check.
	Quick bool
	// Keys gives the root key provider (CheckDir; nil: file only).
	Keys KeyProviders
}

// Damage is one damaged segment.
type Damage struct {
	Camera   string
	Segment  uint64
	From, To time.Time
	Chunk    int // -1 when not about one chunk
	Reason   string
}

func (d Damage) String() string {
	c := ""
	if d.Chunk >= 0 {
		c = fmt.Sprintf(" chunk %d", d.Chunk)
	}
	return fmt.Sprintf("camera %s segment %d%s [%s, %s]: %s", d.Camera, d.Segment, c,
		d.From.Format(time.RFC3339), d.To.Format(time.RFC3339), d.Reason)
}

// CheckReport is the result of Check (R9).
type CheckReport struct {
	Cipher      string
	KeyProvider string // file, tpm2 or rpi-otp (issue 13)
	Quick       bool
	Segments    int // segment rows examined
	Chunks      int // chunks authenticated
	Frames      int
	Bytes       int64
	Holds       int
	Epochs      int
	Overwritten int      // segments the ring overwrote during the check (live store; not damage)
	Open        int      // open segments (checked up to their synced end)
	Problems    []string // store-level: index, keys, counters
	Damage      []Damage
	Took        time.Duration
}

// OK reports whether nothing was found.
func (r CheckReport) OK() bool { return len(r.Problems) == 0 && len(r.Damage) == 0 }

// String is a human summary naming camera, segment and time range of each
// damage.
func (r CheckReport) String() string {
	var b strings.Builder
	mode := "full"
	if r.Quick {
		mode = "quick"
	}
	status := "OK"
	if !r.OK() {
		status = fmt.Sprintf("DAMAGED (%d problems, %d damaged segments)", len(r.Problems), len(r.Damage))
	}
	fmt.Fprintf(&b, "check (%s, %s): %s\n", mode, r.Cipher, status)
	fmt.Fprintf(&b, "  root key: %s\n", ProviderNote(r.KeyProvider))
	fmt.Fprintf(&b, "  %d segments (%d open), %d chunks authenticated, %d frames, %d bytes, %d epochs, %d holds, %v\n",
		r.Segments, r.Open, r.Chunks, r.Frames, r.Bytes, r.Epochs, r.Holds, r.Took.Round(time.Millisecond))
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  problem: %s\n", p)
	}
	for _, d := range r.Damage {
		fmt.Fprintf(&b, "  damage: %s\n", d)
	}
	return b.String()
}

// CheckDir opens the store in dir read-only (no recovery, no writes) and
// checks it; for `edgerec check`. Open segments are checked up to their
// synced end. A store that cannot be opened (ring header, root key, index)
// is an error that says why.
func CheckDir(ctx context.Context, dir string, o CheckOptions) (CheckReport, error) {
	s, err := open(ctx, dir, Options{Keys: o.Keys}, true)
	if err != nil {
		return CheckReport{}, err
	}
	defer s.Close()
	return s.Check(ctx, o)
}

// Check verifies the index against the ring and every segment's chunks (or
// a sample with Quick), the epoch and hold keys, and the counters. It
// reports damage and never changes anything.
func (s *Store) Check(ctx context.Context, o CheckOptions) (CheckReport, error) {
	t0 := time.Now()
	rep := CheckReport{Cipher: s.cipher.String(), KeyProvider: s.hdr.Provider.String(), Quick: o.Quick}
	if !o.Quick {
		if err := s.idx.CheckPages(); err != nil {
			rep.Problems = append(rep.Problems, "index pages: "+err.Error())
		}
	}
	var (
		head  index.Head
		rows  []index.Segment
		skeys = map[uint64][]byte{}
		kerrs = map[uint64]error{}
	)
	err := s.idx.View(func(tx *index.Tx) error {
		var err error
		head, err = tx.Head()
		if err != nil {
			return err
		}
		err = tx.Epochs("", func(e *index.Epoch) error {
			rep.Epochs++
			if !e.Erased && !s.ks.EpochExists(keys.EpochID{Camera: e.Camera, Day: e.Day, Gen: e.Gen}) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("epoch key of camera %s day %s (gen %d) is missing", e.Camera, e.Day, e.Gen))
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Holds(func(h *index.Hold) error {
			rep.Holds++
			if !s.ks.HoldExists(h.ID) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("key of hold %d (camera %s) is missing", h.ID, h.Camera))
			}
			for _, sid := range h.Segments {
				if _, err := tx.Segment(sid); errors.Is(err, index.ErrNotFound) {
					rep.Problems = append(rep.Problems, fmt.Sprintf("hold %d names segment %d, which is not indexed", h.ID, sid))
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		var segs, closed, bytes int64
		err = tx.AllSegments(func(r *index.Segment) error {
			segs++
			if r.Closed {
				closed++
			}
			if !r.InHold {
				bytes += r.Bytes
			}
			rows = append(rows, *r)
			k, err := s.segmentKey(tx, r)
			if err != nil {
				kerrs[r.ID] = err
			} else {
				skeys[r.ID] = k
			}
			return nil
		})
		if err != nil {
			return err
		}
		if segs != head.Segments || closed != head.Closed || bytes != head.Bytes {
			rep.Problems = append(rep.Problems, fmt.Sprintf("counters disagree with rows: head says %d segments, %d closed, %d bytes; rows have %d, %d, %d",
				head.Segments, head.Closed, head.Bytes, segs, closed, bytes))
		}
		return nil
	})
	if err != nil {
		return rep, wrapIndex(err)
	}
	defer func() {
		for _, k := range skeys {
			clear(k)
		}
	}()
	for i := range rows {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		r := &rows[i]
		rep.Segments++
		if !r.Closed {
			rep.Open++
		}
		dmg := func(chunk int, format string, a ...any) {
			rep.Damage = append(rep.Damage, Damage{Camera: r.Camera, Segment: r.ID, From: ts(r.Start), To: ts(r.End),
				Chunk: chunk, Reason: fmt.Sprintf(format, a...)})
		}
		if err := kerrs[r.ID]; err != nil {
			dmg(-1, "key: %v", err)
			continue
		}
		if reason := s.checkLayout(r, head.LSN); reason != "" {
			dmg(-1, "%s", reason)
			continue
		}
		if r.Chunks == 0 {
			continue
		}
		sealer, err := seal.NewSegment(s.cipher, skeys[r.ID], r.ID)
		if err != nil {
			return rep, err
		}
		frames, chunks, last, err := s.verifySegment(ctx, r, sealer, o.Quick)
		rep.Chunks += chunks
		rep.Frames += frames
		rep.Bytes += r.Bytes
		switch {
		case errors.Is(err, errOverwritten):
			rep.Overwritten++
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return rep, err
		case err != nil:
			var te *chunkErr
			if errors.As(err, &te) {
				dmg(int(te.chunk), "%v", te.err)
			} else {
				dmg(-1, "%v", err)
			}
		case !o.Quick && frames != int(r.Frames):
			dmg(-1, "index says %d frames, chunks hold %d", r.Frames, frames)
		case !o.Quick && frames > 0 && last != r.End:
			dmg(-1, "index says the last frame is at %s, chunks say %s", ts(r.End).Format(time.RFC3339Nano), ts(last).Format(time.RFC3339Nano))
		}
	}
	rep.Took = time.Since(t0)
	return rep, nil
}

// checkLayout validates the row's chunk map against the log.
func (s *Store) checkLayout(r *index.Segment, head uint64) string {
	var n uint32
	for _, run := range r.Runs {
		n += run.N
	}
	if n != r.Chunks {
		return fmt.Sprintf("runs hold %d chunks, row says %d", n, r.Chunks)
	}
	for _, k := range r.Keys {
		if k.Chunk >= r.Chunks {
			return fmt.Sprintf("keyframe entry points at chunk %d of %d", k.Chunk, r.Chunks)
		}
	}
	if r.Chunks == 0 {
		if r.Closed {
			return "closed segment without chunks"
		}
		return ""
	}
	if len(r.Keys) == 0 || r.Keys[0].Chunk != 0 {
		return "segment does not start with a keyframe chunk"
	}
	if r.InHold {
		if r.Runs[0].LSN+uint64(r.Bytes) > uint64(s.hdr.HoldSize) {
			return "hold-area copy extends past the hold area"
		}
		return ""
	}
	if r.FirstLSN != r.Runs[0].LSN || r.NextLSN > head || r.FirstLSN < s.tail.Load() {
		return fmt.Sprintf("chunks at lsn [%d, %d) outside the live log [%d, %d)", r.FirstLSN, r.NextLSN, s.tail.Load(), head)
	}
	return ""
}

type chunkErr struct {
	chunk uint32
	err   error
}

func (e *chunkErr) Error() string { return fmt.Sprintf("chunk %d: %v", e.chunk, e.err) }
func (e *chunkErr) Unwrap() error { return e.err }

// verifySegment authenticates the chunks of r (all, or a sample) and
// returns frames seen, chunks authenticated and the last frame time.
func (s *Store) verifySegment(ctx context.Context, r *index.Segment, sealer *seal.Segment, quick bool) (frames, chunks int, last int64, err error) {
	want := func(c uint32) bool { return true }
	if quick {
		mid := r.Chunks / 2
		want = func(c uint32) bool { return c == 0 || c == mid || c == r.Chunks-1 }
	}
	it := newChunkIter(s, r, 0)
	var buf []byte
	var prev int64 = -1 << 63
	for c := uint32(0); c < r.Chunks; c++ {
		if err := ctx.Err(); err != nil {
			return frames, chunks, last, err
		}
		lsn := it.pos
		if s.overwritten(r, lsn) {
			return frames, chunks, last, errOverwritten
		}
		var size int
		if !want(c) {
			h, err := it.header()
			if err != nil {
				if s.overwritten(r, lsn) {
					return frames, chunks, last, errOverwritten
				}
				return frames, chunks, last, &chunkErr{c, err}
			}
			size = seal.HeaderSize + int(h.Length)
		} else {
			raw, err := it.read(buf)
			var pt []byte
			var h seal.Header
			if err == nil {
				pt, h, err = sealer.Open(nil, c, raw)
			}
			if err == nil {
				switch {
				case h.Last && c != r.Chunks-1:
					err = fmt.Errorf("last flag before the end of the segment")
				case c == r.Chunks-1 && r.Closed && !r.Recovered && !h.Last:
					err = fmt.Errorf("truncated: the last chunk has no last flag")
				}
			}
			if err == nil {
				first := true
				err = decodeFrames(pt, func(f Frame) error {
					t := f.Time.UnixNano()
					if t < prev && !quick {
						return fmt.Errorf("%w: frame times go backwards", ErrCorrupt)
					}
					if first && c == 0 && !f.Key {
						return fmt.Errorf("%w: segment does not start with a keyframe", ErrCorrupt)
					}
					first = false
					prev, last = t, t
					frames++
					return nil
				})
			}
			if err != nil {
				if s.overwritten(r, lsn) {
					return frames, chunks, last, errOverwritten
				}
				return frames, chunks, last, &chunkErr{c, err}
			}
			chunks++
			size = len(raw)
			buf = raw
		}
		if err := it.advance(size); err != nil {
			return frames, chunks, last, err
		}
	}
	return frames, chunks, last, nil
}
