package record

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/pkg/codecs/h265"

	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/storage"
)

// Store is the part of storage.Store the segmenter uses.
type Store interface {
	BeginSegment(ctx context.Context, m storage.SegmentMeta) (*storage.SegmentWriter, error)
}

// Feed is a camera's coded stream; *pipeline.Reader implements it. It
// carries pipeline.Video, which only the pipeline makes (masked, or a
// passthrough the camera's policy allows): unmasked video cannot be
// recorded by mistake (R2, issue 15).
type Feed interface {
	C() <-chan pipeline.Video
	Dropped() uint64
}

// Schedule says whether the camera records at a wall time (issue 18);
// *schedule.Schedule implements it (a nil one is always on).
type Schedule interface {
	Active(t time.Time) bool
}

// Config sets the segmenter up for one camera.
type Config struct {
	Camera     string
	MaxSegment time.Duration // default 60 s
	MaxJump    time.Duration // default 10 s
	// MaxStall: a hole before a non-keyframe longer than this and than
	// 1.5 frame intervals cuts the segment too (default 1 s); shorter holes
	// before a non-keyframe are timestamp jitter and stay in the segment,
	// since a segment must start at a keyframe and cutting there would
	// lose the rest of the GOP.
	MaxStall    time.Duration
	ClockSynced func() bool // nil = assume not synced
	Logger      *slog.Logger
	// OnDrop is told how many access units the recorder lost because it fell
	// behind (for health, issue 14); may be nil.
	OnDrop func(n uint64)
	// OnSegment is called after every closed segment (for health); may be nil.
	OnSegment func(start, end time.Time, frames int, err error)
	// Schedule, if set, is when the camera records: an access unit whose
	// wall time is outside it is not written (the open segment ends with
	// the last unit inside the window); recording resumes at the first
	// keyframe inside the next window. Not a drop and not a gap: the
	// timeline shows the time as "scheduled off".
	Schedule Schedule
	// OnSchedule is told when recording stops (false) or resumes (true)
	// because of the schedule; may be nil.
	OnSchedule func(on bool)
}

// Recorder writes one camera's stream to storage.
type Recorder struct {
	cfg   Config
	store Store
	feed  Feed

	w        *storage.SegmentWriter
	segStart time.Time
	lastWall time.Time
	frames   int
	dropped  uint64
	interval time.Duration // moving average of the frame interval (0 = unknown)
	gaps     uint64
	// segSize is the picture size of the open segment, from the SPS of its
	// keyframes (zero: not known yet); sps and spsSize cache the last SPS
	// parsed.
	segSize  [2]int
	sps      []byte
	spsSize  [2]int
	cuts     uint64
	segCodec string // codec of the open segment (issue 18)
	// off: the schedule closed; offUnits counts units not recorded for it.
	off      bool
	offUnits uint64
}

// ScheduledOff returns how many access units were not recorded because
// they fell outside the schedule.
func (r *Recorder) ScheduledOff() uint64 { return r.offUnits }

// SizeCuts returns how many segments were cut because the picture size
// changed.
func (r *Recorder) SizeCuts() uint64 { return r.cuts }

// keySize returns the picture size an access unit's SPS gives (ok=false:
// no SPS or not parsable). Only an SPS whose bytes changed is parsed.
func (r *Recorder) keySize(au []byte, isH265 bool) ([2]int, bool) {
	nalus, err := h264.AnnexBUnmarshal(au)
	if err != nil {
		return [2]int{}, false
	}
	if isH265 {
		return r.keySize265(nalus)
	}
	for _, n := range nalus {
		if len(n) == 0 || h264.NALUType(n[0]&0x1f) != h264.NALUTypeSPS {
			continue
		}
		if !bytes.Equal(n, r.sps) {
			var p h264.SPS
			if err := p.Unmarshal(n); err != nil {
				return [2]int{}, false
			}
			r.sps = append(r.sps[:0], n...)
			r.spsSize = [2]int{p.Width(), p.Height()}
		}
		return r.spsSize, true
	}
	return [2]int{}, false
}

// keySize265 is keySize for H.265 (issue 18): the size from the SPS NAL
// unit (type 33).
func (r *Recorder) keySize265(nalus [][]byte) ([2]int, bool) {
	for _, n := range nalus {
		if len(n) < 2 || h265.NALUType((n[0]>>1)&0x3f) != h265.NALUType_SPS_NUT {
			continue
		}
		if !bytes.Equal(n, r.sps) {
			var p h265.SPS
			if err := p.Unmarshal(n); err != nil {
				return [2]int{}, false
			}
			r.sps = append(r.sps[:0], n...)
			r.spsSize = [2]int{p.Width(), p.Height()}
		}
		return r.spsSize, true
	}
	return [2]int{}, false
}

// gapFactor: a hole longer than this many frame intervals is a gap on the
// record (issue 14): the segment ends before it.
const gapFactor = 1.5

// Gaps returns how many holes in the stream cut a segment so far.
func (r *Recorder) Gaps() uint64 { return r.gaps }

// New returns a recorder; Run does the work.
func New(cfg Config, store Store, feed Feed) *Recorder {
	if cfg.MaxSegment <= 0 {
		cfg.MaxSegment = 60 * time.Second
	}
	if cfg.MaxJump <= 0 {
		cfg.MaxJump = 10 * time.Second
	}
	if cfg.MaxStall <= 0 {
		cfg.MaxStall = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{cfg: cfg, store: store, feed: feed}
}

// Run records until ctx ends or the feed closes, then closes the open
// segment. It returns the first storage error (recording must not go on
// silently when the disk fails).
func (r *Recorder) Run(ctx context.Context) error {
	defer r.closeSegment()
	for {
		select {
		case <-ctx.Done():
			return nil
		case v, ok := <-r.feed.C():
			if !ok {
				return nil
			}
			if err := r.write(ctx, v.AU()); err != nil {
				return err
			}
		}
	}
}

func (r *Recorder) write(ctx context.Context, au media.AccessUnit) error {
	if d := r.feed.Dropped(); d != r.dropped {
		if r.cfg.OnDrop != nil {
			r.cfg.OnDrop(d - r.dropped)
		}
		r.dropped = d
		r.cfg.Logger.Warn("recorder fell behind; cutting segment", "camera", r.cfg.Camera, "dropped_total", d)
		r.closeSegment()
	}
	if r.cfg.Schedule != nil {
		active := r.cfg.Schedule.Active(au.Wall)
		if active == r.off { // a change
			r.off = !active
			r.cfg.Logger.Info("recording schedule", "camera", r.cfg.Camera, "recording", active, "at", au.Wall)
			if r.cfg.OnSchedule != nil {
				r.cfg.OnSchedule(active)
			}
		}
		if !active {
			r.closeSegment()
			r.offUnits++
			return nil
		}
	}
	var size [2]int
	sized := false
	codecName := media.CodecH264
	if au.IsH265() {
		codecName = media.CodecH265
	}
	if au.Key {
		size, sized = r.keySize(au.Data, au.IsH265())
	}
	if r.w != nil && codecName != r.segCodec {
		// A segment has one codec (issue 18): a camera switched between
		// H.264 and H.265 starts a new segment (at a keyframe, below).
		r.cfg.Logger.Info("codec changed; cutting segment", "camera", r.cfg.Camera, "from", r.segCodec, "to", codecName)
		r.closeSegment()
	}
	if r.w != nil && sized && r.segSize != ([2]int{}) && size != r.segSize {
		// A segment has one picture size (issue 14): a camera that changes
		// its resolution starts a new one at the keyframe with the new SPS.
		r.cuts++
		r.cfg.Logger.Info("picture size changed; cutting segment", "camera", r.cfg.Camera,
			"from", fmt.Sprintf("%dx%d", r.segSize[0], r.segSize[1]), "to", fmt.Sprintf("%dx%d", size[0], size[1]))
		r.closeSegment()
	}
	if r.w != nil {
		d := au.Wall.Sub(r.lastWall)
		jump := au.Wall.Before(r.lastWall) || d > r.cfg.MaxJump
		switch {
		case jump:
			r.cfg.Logger.Warn("clock jump; cutting segment", "camera", r.cfg.Camera, "from", r.lastWall, "to", au.Wall)
			r.closeSegment()
		case r.isGap(d, au.Key):
			// Every hole is on the record (issue 14): the index, the
			// timeline, playback and export manifests see two segments with
			// the hole between them.
			r.gaps++
			r.cfg.Logger.Info("hole in the stream; cutting segment", "camera", r.cfg.Camera, "after", r.lastWall, "hole", d-r.interval)
			r.closeSegment()
		case au.Key && au.Wall.Sub(r.segStart) >= r.cfg.MaxSegment:
			r.closeSegment()
		default:
			r.observe(d)
		}
	}
	if r.w == nil {
		if !au.Key {
			return nil // wait for a keyframe
		}
		synced := r.cfg.ClockSynced != nil && r.cfg.ClockSynced()
		w, err := r.store.BeginSegment(ctx, storage.SegmentMeta{Camera: r.cfg.Camera, Start: au.Wall, ClockSynced: synced, Codec: codecName})
		if err != nil {
			return fmt.Errorf("record %s: begin segment: %w", r.cfg.Camera, err)
		}
		r.w, r.segStart, r.frames, r.segSize, r.segCodec = w, au.Wall, 0, [2]int{}, codecName
	}
	if sized && r.segSize == ([2]int{}) {
		r.segSize = size
	}
	if err := r.w.WriteFrame(storage.Frame{Time: au.Wall, Key: au.Key, Data: au.Data}); err != nil {
		return fmt.Errorf("record %s: write frame: %w", r.cfg.Camera, err)
	}
	r.lastWall = au.Wall
	r.frames++
	return nil
}

// isGap reports whether a hole of d before a unit is a gap on the record:
// longer than gapFactor frame intervals, and, before a non-keyframe, also
// longer than MaxStall (see Config).
func (r *Recorder) isGap(d time.Duration, key bool) bool {
	if r.interval <= 0 || float64(d) <= gapFactor*float64(r.interval) {
		return false
	}
	return key || d > r.cfg.MaxStall
}

// observe updates the frame interval average with a regular interval.
func (r *Recorder) observe(d time.Duration) {
	if d <= 0 {
		return
	}
	if r.interval <= 0 {
		r.interval = d
		return
	}
	r.interval += (d - r.interval) / 4
}

func (r *Recorder) closeSegment() {
	if r.w == nil {
		return
	}
	err := r.w.Close()
	if err != nil {
		r.cfg.Logger.Error("closing segment failed", "camera", r.cfg.Camera, "err", err)
	}
	if r.cfg.OnSegment != nil {
		r.cfg.OnSegment(r.segStart, r.lastWall, r.frames, err)
	}
	r.w = nil
}
