package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/pkg/codecs/h264"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
)

// ErrNoSnapshot means the camera has not produced a picture yet.
var ErrNoSnapshot = errors.New("pipeline: no picture yet")

// ErrH265NoDecoder: a passthrough H.265 camera has no snapshot and no
// image health; the gateway's one decoder (openh264) is H.264 only
// (issue 18). It wraps ErrNoSnapshot.
var ErrH265NoDecoder error = reasonError{msg: "no snapshot: the camera sends H.265 and this gateway decodes H.264 only; recording and export work, snapshots and image health need the camera switched to H.264", base: ErrNoSnapshot}

// reasonError is an error whose text may be shown to the user as it is
// (UserReason); the web API answers with it instead of a bare 503.
type reasonError struct {
	msg  string
	base error
}

func (e reasonError) Error() string      { return "pipeline: " + e.msg }
func (e reasonError) Unwrap() error      { return e.base }
func (e reasonError) UserReason() string { return e.msg }

// ErrMasksNeedH264 refuses a masked camera that sends H.265 (issue 18,
// R2): masking decodes the picture and only H.264 can be decoded, so the
// camera is not recorded at all rather than recorded unmasked.
var ErrMasksNeedH264 = errors.New("camera sends H.265; masks need H.264: switch the camera's video codec to H.264 in its web page (or ONVIF profile), or remove the masks")

// h265Unchecked is the health text for an H.265 passthrough camera.
const h265Unchecked = "camera sends H.265: no snapshot or image health (the gateway decodes H.264 only); switch the camera to H.264 for them"

// CameraConfig is one camera's video settings.
type CameraConfig struct {
	ID               string
	Name             string
	Source           string
	Masks            mask.Set // validated at the boundary (config, LAN page)
	BitrateKbps      int
	KeyframeInterval time.Duration
}

// HealthSink receives the camera's health; *health.Tracker implements it.
type HealthSink interface {
	UpdateCamera(id string, fn func(*health.Camera))
	Warn(key, text string)
	Clear(key string)
}

// Opener opens a source by URL; source.Open fits.
type Opener func(ctx context.Context, url string, o source.Options) (source.Source, error)

// Deps are a camera's collaborators.
type Deps struct {
	Health HealthSink
	Logger *slog.Logger // carries the camera's id (the caller adds it: With("camera", id))
	Open   Opener       // nil = source.Open
	// Backoff bounds for restarts; zero values mean 1 s and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// Looks is the keyframe-look pool shared by every camera of the
	// gateway (see LookPool); nil = a private pool of one slot.
	Looks *LookPool
	// MaxAccessUnit: a larger access unit is refused (counted as dropped,
	// with the rest of its GOP) before it reaches the hub; the daemon
	// passes storage.MaxFrameSize. 0 = DefaultMaxAccessUnit.
	MaxAccessUnit int
	// ImageHealth, when set, receives this pipeline's image health (R10)
	// instead of Health: a camera's sub stream (issue 18) reports the
	// camera's picture health while its main stream, passed through,
	// leaves it to the sub stream (ImageElsewhere).
	ImageHealth HealthSink
	// ImageElsewhere, when set and true, tells a passthrough pipeline that
	// another pipeline of the same camera (its sub stream) watches the
	// picture: it takes no periodic keyframe looks and reports no image
	// health (a look on a parameter change or a snapshot request still
	// happens). Decoding a small sub stream instead of the main stream's
	// keyframes is what makes image health cheap (issues 14, 18).
	ImageElsewhere func() bool
}

// DefaultMaxAccessUnit is the largest access unit a camera publishes when
// Deps.MaxAccessUnit is 0 (storage refuses larger frames).
const DefaultMaxAccessUnit = 4 << 20

// frameQueue is the depth of the bounded queue between the decode (or
// capture) stage and the mask+encode stage of a masked camera: about a
// quarter second at 15 fps, ~12 MB of 1080p pictures.
const frameQueue = 4

// MaxSkipGOP: when a masked camera's encoder falls behind, the rest of the
// camera's GOP is dropped undecoded if its GOPs are at most this long;
// otherwise pictures are decoded and dropped until the queue drains.
const MaxSkipGOP = 4 * time.Second

// MaxLate: a captured picture older than this when the capture stage gets
// it is dropped (counted), so an overloaded raw camera catches up.
const MaxLate = time.Second

// Camera is one supervised camera pipeline.
type Camera struct {
	cfg  CameraConfig
	deps Deps
	hub  *Hub

	mu sync.Mutex
	// snap is the last picture for the snapshot, owned by the camera: a
	// masked camera's last masked picture; a passthrough camera's decoded
	// look, kept only while someone asks for snapshots (snapAsked within
	// SnapshotKeep), else let go and decoded again from snapKey on demand.
	snap *media.Frame
	// snapKey is a passthrough camera's keyframe of its last look, coded
	// (a few hundred KB instead of a 3 MB 1080p picture per camera).
	snapKey   []byte
	snapTime  time.Time
	snapAsked time.Time // the last Snapshot call
	// snapMasks is the mask version the snapshot was made under: after
	// SetMasks an older picture is never shown (R2: a mask added to a
	// passthrough camera hides the area in the next snapshot, not only in
	// the next recording).
	snapMasks uint64

	maskMu  sync.Mutex
	masks   mask.Set
	maskVer uint64

	// wantLook asks a passthrough camera to decode its next keyframe now
	// (someone opened a snapshot older than SnapshotFresh).
	wantLook atomic.Bool
	// h265: the current run is an H.265 passthrough camera (issue 18).
	h265 atomic.Bool
	// delivered: the camera has published at least one picture since it
	// was made (a later loss is "lost", an earlier one "never connected").
	delivered atomic.Bool
	// lastPub is the Unix-nano time of the last published picture.
	lastPub atomic.Int64
	// looksTaken counts keyframe looks (passthrough).
	looksTaken atomic.Uint64
}

// Passthrough cameras decode a keyframe only now and then, for image health
// (R10) and the snapshot (issue 14: decoding every 2 s was most of the CPU
// of a passthrough gateway and kept a decoder's ~27 MB per 1080p camera):
// every PassthroughLook plus a per-camera offset of up to 5 s (so cameras
// do not decode in step), and at the next keyframe when a snapshot older
// than SnapshotFresh is requested. The decoder exists only for one look.
// Image health of a passthrough camera therefore reacts within about two
// looks (≈ 30–40 s) rather than seconds.
const (
	PassthroughLook = 15 * time.Second
	SnapshotFresh   = 2 * time.Second
	// SnapshotKeep: a passthrough camera keeps its last look decoded while
	// a snapshot was asked for within this time (someone watches it);
	// otherwise it keeps only the coded keyframe (issue 14: 16 decoded
	// 1080p pictures were 48 MB of a 200 MB gateway).
	SnapshotKeep = 10 * time.Second
)

// DropDegradeRatio: a camera that loses more than this share of its frames
// within a one-second window is reported degraded ("dropping frames"),
// which reaches the page, /metrics and the uplink (issue 14).
const DropDegradeRatio = 0.05

// dropper is a source that counts what it lost (RTSP: access units up to
// the next keyframe when the box fell behind or packets were lost).
type dropper interface{ Dropped() uint64 }

// errMasksChanged ends a run whose masks changed so that the next run
// starts with the new ones (and, for an RTSP camera, switches between
// passthrough and transcoding).
var errMasksChanged = errors.New("pipeline: masks changed")

// SetMasks replaces the camera's masks while it runs: the next picture is
// masked with the new set, for recording and live view at once. A camera
// that had no masks (passthrough) restarts into transcoding before it
// publishes another access unit (R2). The set was validated where it came
// in (mask.NewSet); the pipeline does not check it again.
func (c *Camera) SetMasks(masks mask.Set) {
	c.maskMu.Lock()
	defer c.maskMu.Unlock()
	c.masks = masks
	c.maskVer++
	if c.deps.Health != nil {
		n := masks.Len()
		c.deps.Health.UpdateCamera(c.cfg.ID, func(h *health.Camera) { h.Masked = n > 0 })
	}
}

// Masks returns the current masks.
func (c *Camera) Masks() mask.Set {
	c.maskMu.Lock()
	defer c.maskMu.Unlock()
	return c.masks
}

func (c *Camera) maskState() (mask.Set, uint64) {
	c.maskMu.Lock()
	defer c.maskMu.Unlock()
	return c.masks, c.maskVer
}

func (c *Camera) maskVersion() uint64 {
	c.maskMu.Lock()
	defer c.maskMu.Unlock()
	return c.maskVer
}

// NewCamera returns a camera that has not started yet (its masks are a
// validated mask.Set).
func NewCamera(cfg CameraConfig, deps Deps) (*Camera, error) {
	if deps.Open == nil {
		deps.Open = source.Open
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.MinBackoff <= 0 {
		deps.MinBackoff = time.Second
	}
	if deps.MaxBackoff <= 0 {
		deps.MaxBackoff = 30 * time.Second
	}
	if deps.Looks == nil {
		deps.Looks = NewLookPool(1)
	}
	if deps.MaxAccessUnit <= 0 {
		deps.MaxAccessUnit = DefaultMaxAccessUnit
	}
	return &Camera{cfg: cfg, deps: deps, hub: NewHub(), masks: cfg.Masks}, nil
}

// ID is the camera's local id.
func (c *Camera) ID() string { return c.cfg.ID }

// Delivered reports whether the camera has published a picture since it
// was made.
func (c *Camera) Delivered() bool { return c.delivered.Load() }

// Fresh reports whether the camera published a picture within d.
func (c *Camera) Fresh(d time.Duration) bool {
	t := c.lastPub.Load()
	return t != 0 && time.Since(time.Unix(0, t)) < d
}

// LooksTaken is the number of keyframe looks (decodes of a passthrough
// camera's keyframes for snapshots and image health) since start.
func (c *Camera) LooksTaken() uint64 { return c.looksTaken.Load() }

// Hub is where the camera's masked, coded video comes out.
func (c *Camera) Hub() *Hub { return c.hub }

// Snapshot returns the last masked picture and when it was taken. A
// passthrough camera that kept only the coded keyframe of its last look
// decodes it now, in a slot of the shared look pool (waiting for one
// while ctx allows).
func (c *Camera) Snapshot(ctx context.Context) (image.Image, time.Time, error) {
	masks := c.maskVersion()
	c.mu.Lock()
	c.snapAsked = time.Now()
	if c.snapMasks != masks {
		c.snap, c.snapKey = nil, nil // made before the masks changed
	}
	if (c.snap == nil && c.snapKey == nil) || time.Since(c.snapTime) > SnapshotFresh {
		c.wantLook.Store(true) // a passthrough camera decodes its next keyframe
	}
	if c.snap != nil {
		img, at := c.snap.Clone().YCbCr(), c.snapTime
		c.mu.Unlock()
		return img, at, nil
	}
	key, at := c.snapKey, c.snapTime
	c.mu.Unlock()
	if key == nil {
		if c.h265.Load() {
			return nil, time.Time{}, ErrH265NoDecoder
		}
		return nil, time.Time{}, ErrNoSnapshot
	}
	var pic *media.Frame
	var derr error
	if err := c.deps.Looks.Do(ctx, func() { pic, derr = c.decodeKeyframe(key) }); err != nil {
		return nil, time.Time{}, fmt.Errorf("snapshot: wait for a decoder: %w", err)
	}
	if derr != nil {
		return nil, time.Time{}, fmt.Errorf("snapshot: decode the last keyframe: %w", derr)
	}
	img := pic.Clone().YCbCr()
	c.mu.Lock()
	if c.snap == nil && c.snapTime.Equal(at) && c.snapMasks == masks {
		c.snap = pic // later calls until the next look need no decode
	}
	c.mu.Unlock()
	if c.maskVersion() != masks {
		return nil, time.Time{}, ErrNoSnapshot // masks changed while decoding
	}
	return img, at, nil
}

// Run supervises the pipeline until ctx ends: it restarts a failed source
// with capped exponential backoff and reports every state change.
func (c *Camera) Run(ctx context.Context) error {
	defer c.hub.Close()
	backoff := c.deps.MinBackoff
	for {
		c.setState(health.StateStarting, "")
		started := time.Now()
		err := c.runOnce(ctx)
		if ctx.Err() != nil {
			c.setState(health.StateStopped, "")
			return nil
		}
		if errors.Is(err, errMasksChanged) {
			continue // restart at once with the new masks
		}
		if errors.Is(err, ErrMasksNeedH264) {
			// Refused, not lost (R2): retried now and then, since the
			// installer may switch the camera to H.264 or remove the masks.
			c.deps.Logger.Warn("camera refused", "err", err)
			c.setState(health.StateRefused, err.Error())
			t := time.NewTimer(c.deps.MaxBackoff)
			select {
			case <-ctx.Done():
				t.Stop()
				c.setState(health.StateStopped, "")
				return nil
			case <-t.C:
			}
			continue
		}
		if time.Since(started) > 2*c.deps.MaxBackoff {
			backoff = c.deps.MinBackoff
		}
		reason := "source ended"
		if err != nil {
			reason = err.Error()
		}
		if !c.delivered.Load() {
			// Issue 18: "lost" for a camera nobody ever saw misleads the
			// technician (wrong URL, password, network?).
			reason = "never connected: " + reason
		}
		c.deps.Logger.Warn("camera lost; restarting", "err", reason, "retry_in", backoff)
		c.setState(health.StateLost, reason)
		if c.deps.Health != nil {
			c.deps.Health.UpdateCamera(c.cfg.ID, func(h *health.Camera) { h.Gaps++ })
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			c.setState(health.StateStopped, "")
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, c.deps.MaxBackoff)
	}
}

func (c *Camera) setState(s health.CameraState, reason string) {
	if c.deps.Health == nil {
		return
	}
	c.deps.Health.UpdateCamera(c.cfg.ID, func(h *health.Camera) {
		h.Name = c.cfg.Name
		h.State = s
		h.Reason = reason
		h.Masked = c.Masks().Len() > 0
	})
}

func (c *Camera) runOnce(ctx context.Context) error {
	src, err := c.deps.Open(ctx, c.cfg.Source, source.Options{})
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer src.Close()
	masks, ver := c.maskState()
	masker, err := masks.Masker(mask.Options{})
	if err != nil {
		return err
	}
	st := &runStats{maskVer: ver, cam: c, info: src.Info(), start: time.Now(), image: NewImageHealth(ImageHealthConfig{})}
	if d, ok := src.(dropper); ok {
		st.src = d
	}
	defer st.clearImage()
	defer st.flush()
	switch s := src.(type) {
	case source.RawSource:
		return c.runRaw(ctx, s, masker, st)
	case source.CodedSource:
		h265 := st.info.Codec == media.CodecH265
		c.h265.Store(h265)
		// The one place that decides passthrough: only a camera with no
		// masks records the camera's own H.264 or H.265 (R2: a masked
		// camera is always decoded, masked and re-encoded, and only H.264
		// can be decoded: a masked H.265 camera is refused, issue 18).
		if masker.Len() == 0 {
			return c.runPassthrough(ctx, s, st)
		}
		if h265 {
			return ErrMasksNeedH264
		}
		return c.runTranscode(ctx, s, masker, st)
	default:
		return fmt.Errorf("source %s yields neither frames nor access units", source.Redact(c.cfg.Source))
	}
}

// runRaw: frames → [bounded queue] → mask → encode → hub. Capture runs on
// its own goroutine so a slow encoder never makes the camera's frames late;
// when the queue is full, pictures are dropped until it has drained (one
// contiguous hole, counted) and the encoder starts again with a keyframe.
func (c *Camera) runRaw(ctx context.Context, src source.RawSource, masker *mask.Masker, st *runStats) error {
	produce := func(ctx context.Context, q chan<- *media.Frame, _ *framePool) error {
		dropping := false
		for {
			f, err := src.Read(ctx)
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			if !f.Wall.IsZero() && time.Since(f.Wall) > MaxLate {
				// Capture itself fell behind (the box is overloaded): a
				// late picture is dropped and counted, so the camera
				// catches up instead of recording ever later.
				st.skipped.Add(1)
				st.forceKey.Store(true)
				continue
			}
			if dropping && len(q) > 0 {
				st.skipped.Add(1)
				continue
			}
			dropping = false
			select {
			case q <- f:
			default:
				st.skipped.Add(1)
				st.forceKey.Store(true)
				dropping = true
			}
		}
	}
	return c.runStages(ctx, src, masker, st, produce)
}

// runTranscode: access units → decode → [bounded queue] → mask → encode →
// hub, decoding and encoding on two goroutines (two cores). When the
// mask+encode stage falls behind and the queue is full, the picture and
// the rest of its GOP are dropped without decoding them (deterministic:
// decoding resumes at the camera's next keyframe; see MaxSkipGOP for long
// GOPs), counted, and the encoder starts again with a keyframe so the hole
// is a gap on the record.
// The encoder is (re)created at the first picture and whenever the size
// changes; the masker re-rasterizes per size by itself.
func (c *Camera) runTranscode(ctx context.Context, src source.CodedSource, masker *mask.Masker, st *runStats) error {
	produce := func(ctx context.Context, q chan<- *media.Frame, pool *framePool) error {
		dec, err := codec.NewDecoder()
		if err != nil {
			return err
		}
		defer dec.Close()
		skipping, draining := false, false
		var lastKey time.Time
		var gop time.Duration // the camera's last keyframe interval (0 = unknown)
		for {
			au, err := src.ReadAU(ctx)
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			if au.Key {
				if !lastKey.IsZero() && au.Wall.After(lastKey) {
					gop = au.Wall.Sub(lastKey)
				}
				lastKey = au.Wall
			}
			if skipping && !au.Key {
				st.skipped.Add(1)
				continue
			}
			skipping = false
			if len(au.Data) > c.deps.MaxAccessUnit {
				st.refuse(au)
				skipping = true
				continue
			}
			buf := pool.get()
			pic, err := dec.DecodeInto(au.Data, buf)
			if pic == nil {
				pool.put(buf) // not used: no picture
			} // (a new frame for another size: buf is dropped)
			if err != nil {
				st.decodeErrors.Add(1)
				continue // the decoder resynchronizes at the next keyframe
			}
			if pic == nil {
				continue
			}
			pic.PTS, pic.Wall = au.PTS, au.Wall
			if draining && len(q) > 0 {
				st.skipped.Add(1)
				pool.put(pic)
				continue
			}
			draining = false
			sent, err := enqueueOnTime(ctx, q, pic)
			if err != nil {
				pool.put(pic)
				return err
			}
			if !sent {
				pool.put(pic)
				st.skipped.Add(1)
				st.forceKey.Store(true)
				// Short GOPs: skip decoding the rest of the GOP (saves the
				// decode). A camera with long or unknown GOPs (a keyframe
				// every 60 s) would lose up to a minute that way: it keeps
				// decoding and drops pictures until the queue has drained.
				if gop > 0 && gop <= MaxSkipGOP {
					skipping = true
				} else {
					draining = true
				}
			}
		}
	}
	return c.runStages(ctx, src, masker, st, produce)
}

// enqueueOnTime hands pic to the mask+encode stage. When the queue is full
// it waits while the picture is still less than MaxLate old (issue 14: a
// burst — every camera's first keyframe and encoder set-up at once — is
// absorbed by the coded units queued in the source, not lost), and
// reports false when it would be later than that: the box cannot keep up
// and the caller drops.
func enqueueOnTime(ctx context.Context, q chan<- *media.Frame, pic *media.Frame) (bool, error) {
	select {
	case q <- pic:
		return true, nil
	default:
	}
	if pic.Wall.IsZero() {
		return false, nil
	}
	wait := MaxLate - time.Since(pic.Wall)
	if wait <= 0 {
		return false, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case q <- pic:
		return true, nil
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// runStages runs produce on its own goroutine, feeding a queue of
// frameQueue pictures, and masks, encodes and publishes them on this one.
// It returns when either stage fails or ctx ends; the stage that stops
// first stops the other.
func (c *Camera) runStages(ctx context.Context, src source.Source, masker *mask.Masker, st *runStats, produce func(context.Context, chan<- *media.Frame, *framePool) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := make(chan *media.Frame, frameQueue)
	pool := newFramePool(frameQueue + 2)
	prodErr := make(chan error, 1)
	go func() {
		defer close(q)
		prodErr <- produce(ctx, q, pool)
	}()
	var enc *codec.Encoder
	var encPix bool // enc was set up for pixelation cells
	defer func() {
		if enc != nil {
			enc.Close()
		}
	}()
	var encErr error
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var pic *media.Frame
		select {
		case <-tick.C:
			st.idle()
			continue
		case p, ok := <-q:
			if !ok {
				perr := <-prodErr
				if encErr != nil {
					return encErr
				}
				return perr
			}
			pic = p
		}
		if encErr != nil {
			pool.put(pic)
			continue // drain until the producer has seen the cancel
		}
		// New masks first: whether they pixelate decides the encoder.
		if err := c.refreshMasker(masker, st); err != nil {
			encErr = err
			cancel()
			pool.put(pic)
			continue
		}
		if enc == nil || enc.Info().Width != pic.Width || enc.Info().Height != pic.Height || encPix != masker.Pixelates() {
			if enc != nil {
				enc.Close()
				enc = nil
			}
			fps := src.Info().FPS
			encPix = masker.Pixelates()
			e, err := codec.NewEncoder(codec.EncoderConfig{
				Width: pic.Width, Height: pic.Height, FPS: fps,
				BitrateKbps: c.cfg.BitrateKbps, KeyframeInterval: c.cfg.KeyframeInterval,
				Pixelated: encPix,
			})
			if err != nil {
				encErr = err
				cancel()
				continue
			}
			enc = e
			st.info.Width, st.info.Height, st.info.FPS = pic.Width, pic.Height, fps
			st.encoder = c.encoderText()
		}
		st.observe(pic)
		if err := c.maskEncodePublish(pic, masker, enc, st); err != nil {
			encErr = err
			cancel()
		}
		// Encode read the planes in place and the snapshot copied them:
		// nothing refers to pic any more.
		pool.put(pic)
	}
}

// framePool recycles the picture buffers of a masked camera's two stages
// (issue 14: a fresh 1080p picture per frame was ~3 MB of garbage and
// several GCs a second per camera). A frame is owned by exactly one of:
// the pool, the decode stage, the queue, the mask+encode stage; it goes
// back to the pool after it was encoded (the snapshot keeps a copy) or
// when it was dropped. Frames of another size than asked are discarded.
type framePool struct{ free chan *media.Frame }

func newFramePool(n int) *framePool { return &framePool{free: make(chan *media.Frame, n)} }

// get returns a free frame, or nil when there is none (the decoder then
// allocates one, which later joins the pool).
func (p *framePool) get() *media.Frame {
	select {
	case f := <-p.free:
		return f
	default:
		return nil
	}
}

// put returns f to the pool (nil is ignored; a full pool drops it).
func (p *framePool) put(f *media.Frame) {
	if f == nil {
		return
	}
	select {
	case p.free <- f:
	default:
	}
}

// runPassthrough: the camera's access units go to the hub as they are. Now
// and then a keyframe is handed to the shared look pool for the snapshot
// and image health; its result comes back to this loop.
func (c *Camera) runPassthrough(ctx context.Context, src source.CodedSource, st *runStats) error {
	st.encoder = "passthrough: the camera's own H.264 (camera has no masks)"
	h265 := st.info.Codec == media.CodecH265
	if h265 {
		st.encoder = "passthrough: the camera's own H.265 (camera has no masks)"
	}
	if c.deps.Health != nil {
		c.deps.Health.UpdateCamera(c.cfg.ID, func(hc *health.Camera) {
			hc.Codec = st.info.Codec
			hc.ImageUnchecked = ""
			if h265 {
				hc.ImageUnchecked = h265Unchecked
			}
		})
	}
	h := fnv.New32a()
	h.Write([]byte(c.cfg.ID))
	every := PassthroughLook + time.Duration(h.Sum32()%5000)*time.Millisecond
	var lastLook time.Time
	looks := make(chan lookResult, 1) // at most one look in flight
	inFlight := false
	skipping := false
	for {
		au, err := src.ReadAU(ctx)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		select {
		case lr := <-looks:
			inFlight = false
			if pic := lr.pic; pic != nil {
				st.info.Width, st.info.Height = pic.Width, pic.Height
				if !c.imageElsewhere() {
					st.observe(pic)
				}
				c.keepLook(pic, lr.key, st.maskVer)
			}
		default:
		}
		if skipping && !au.Key {
			st.skipped.Add(1)
			continue
		}
		skipping = false
		if len(au.Data) > c.deps.MaxAccessUnit {
			// Storage refuses such a frame; the units up to the next
			// keyframe depend on it (R23: counted, not a crash).
			st.refuse(au)
			skipping = true
			continue
		}
		// H.265 (issue 18): no decoder, so no look; the SPS size is read
		// by the recorder.
		changed := !h265 && au.Key && st.paramsChanged(au.Data)
		if changed {
			// New parameter sets (a new resolution): look at once so health
			// and the snapshot show the new size.
			c.deps.Logger.Info("camera changed its stream parameters")
		}
		periodic := lastLook.IsZero() || time.Since(lastLook) >= every
		if periodic && c.imageElsewhere() {
			periodic = false // the sub stream watches the picture
		}
		if !h265 && au.Key && !inFlight && (periodic || changed || c.wantLook.Load()) {
			if c.deps.Looks.TryGo(func() { looks <- c.look(au) }) {
				c.looksTaken.Add(1)
				inFlight = true
				lastLook = time.Now()
				c.wantLook.Store(false)
			}
		}
		if c.maskVersion() != st.maskVer {
			// Masks arrived: never publish another unmasked unit (R2).
			return errMasksChanged
		}
		c.hub.Publish(passthrough(au))
		st.published(au)
	}
}

// imageElsewhere reports whether the camera's sub stream watches the
// picture now (Deps.ImageElsewhere).
func (c *Camera) imageElsewhere() bool {
	return c.deps.ImageElsewhere != nil && c.deps.ImageElsewhere()
}

// lookResult is a passthrough camera's look: the decoded picture (nil when
// the keyframe did not decode) and the keyframe it came from.
type lookResult struct {
	pic *media.Frame
	key []byte
}

// look decodes one keyframe of a passthrough camera on a look-pool slot. It
// touches nothing of the run: the result goes back to the camera's loop.
func (c *Camera) look(au media.AccessUnit) lookResult {
	pic, err := c.decodeKeyframe(au.Data)
	if err != nil {
		c.deps.Logger.Warn("passthrough: keyframe look", "err", err)
		return lookResult{}
	}
	pic.Wall = au.Wall
	return lookResult{pic: pic, key: au.Data}
}

// decodeKeyframe decodes one lone keyframe (SPS, PPS, IDR) with a decoder
// that lives only for it: an idle gateway holds no decoder memory.
func (c *Camera) decodeKeyframe(key []byte) (*media.Frame, error) {
	dec, err := codec.NewLookDecoder()
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	defer dec.Close()
	pic, err := dec.Decode(key)
	if err == nil && pic == nil {
		pic, err = dec.Flush()
	}
	if err != nil {
		return nil, err
	}
	if pic == nil {
		return nil, errors.New("the keyframe gave no picture")
	}
	return pic, nil
}

// refreshMasker replaces *masker when the camera's masks changed.
func (c *Camera) refreshMasker(masker *mask.Masker, st *runStats) error {
	if v := c.maskVersion(); v != st.maskVer {
		masks, ver := c.maskState()
		nm, err := masks.Masker(mask.Options{})
		if err != nil {
			return err
		}
		if nm.Len() == 0 {
			// All masks removed: an RTSP camera may go back to passthrough;
			// restarting is the simple, uniform way.
			return errMasksChanged
		}
		*masker = *nm
		st.maskVer = ver
	}
	return nil
}

func (c *Camera) maskEncodePublish(f *media.Frame, masker *mask.Masker, enc *codec.Encoder, st *runStats) error {
	if err := c.refreshMasker(masker, st); err != nil {
		return err
	}
	if st.forceKey.Swap(false) {
		// Pictures were dropped before this one: start a new GOP so the
		// recorder cuts the segment at the hole and loses nothing after it.
		enc.ForceKeyframe()
	}
	// Pixelation cells change only at keyframes (issue 14: predicted
	// pictures then code them unchanged and they stay flat).
	m := masker.ApplyHeld(f, enc.NextKeyframe())
	v, ok, err := encodeMasked(enc, m)
	if err != nil {
		return err
	}
	if ok {
		c.hub.Publish(v)
		st.published(v.AU())
	}
	// The snapshot after the publish: a camera with a picture to show has
	// delivered to its hub, so a viewer sent to it (a sub stream, issue 18)
	// never lands on a camera that has shown nothing yet.
	if now := time.Now(); c.delivered.Load() && now.Sub(st.lastSnap) >= 500*time.Millisecond {
		c.keepSnapshot(m.Frame(), f.Wall, st.maskVer)
		st.lastSnap = now
	}
	return nil
}

func (c *Camera) encoderText() string {
	kbps := c.cfg.BitrateKbps
	if kbps == 0 {
		kbps = 1500
	}
	ki := c.cfg.KeyframeInterval
	if ki == 0 {
		ki = 2 * time.Second
	}
	return fmt.Sprintf("%s, %d kbps, keyframe every %s", codec.Name, kbps, ki)
}

// runStats keeps the per-second health figures of one run.
type runStats struct {
	cam                 *Camera
	info                media.StreamInfo
	start               time.Time
	winStart            time.Time
	winFrames, winBytes int
	total               uint64
	lastSnap            time.Time
	lastObserve         time.Time // Wall of the last picture image health saw
	lastWall            time.Time // of the last published unit
	sps                 []byte    // the passthrough stream's last SPS
	spsSize             [2]int    // and the picture size it gives
	recording           bool
	encoder             string
	// decodeErrors and skipped are counted by the decode/capture stage:
	// pictures that did not decode, and units or pictures the pipeline
	// dropped (queue full, rest of a GOP, oversized).
	decodeErrors, skipped atomic.Uint64
	refused               atomic.Uint64 // oversized units among skipped
	forceKey              atomic.Bool   // the next encoded picture is an IDR
	src                   dropper       // nil: the source does not count drops
	lostSeen              uint64        // source drops + decode errors already reported
	image                 *ImageHealth
	imageFlags            []string
	maskVer               uint64
}

// observe looks at an unmasked picture, in memory only, for image health
// (R10). Nothing of it is kept.
// observeEvery: image health looks at a masked camera's pictures at
// most this often. Its conditions are time-based (held for seconds), so
// four looks a second judge as well as fifteen (issue 14: per-picture
// sampling was a measurable part of a masked camera's Go CPU).
const observeEvery = 250 * time.Millisecond

func (st *runStats) observe(f *media.Frame) {
	now := f.Wall
	if now.IsZero() {
		now = time.Now()
	}
	if !st.lastObserve.IsZero() && now.Sub(st.lastObserve) < observeEvery && now.After(st.lastObserve) {
		return
	}
	st.lastObserve = now
	flags := st.image.Observe(f)
	if !equalFlags(flags, st.imageFlags) {
		st.imageFlags = flags
		st.cam.reportImage(flags)
	}
}

func (st *runStats) clearImage() {
	if len(st.imageFlags) > 0 {
		st.cam.reportImage(nil)
	}
}

func (st *runStats) published(au media.AccessUnit) {
	c := st.cam
	if st.winStart.IsZero() {
		st.winStart = time.Now()
	}
	st.total++
	st.winFrames++
	st.winBytes += len(au.Data)
	st.lastWall = au.Wall
	c.lastPub.Store(time.Now().UnixNano())
	if !st.recording {
		st.recording = true
		c.delivered.Store(true)
		c.setState(health.StateRecording, "")
	}
	st.report()
}

// idle is called about once a second by a masked camera's encode stage,
// so that a camera that publishes nothing (every picture dropped) still
// reports its loss and goes degraded.
func (st *runStats) idle() {
	if st.winStart.IsZero() {
		st.winStart = time.Now()
		return
	}
	st.report()
}

// flush reports the last, partial window when a run ends, so that the
// totals in health (frames kept, dropped) are exact.
func (st *runStats) flush() {
	if !st.winStart.IsZero() {
		st.reportWindow(true)
	}
}

// report sends the window's figures to health once the window is a second
// old.
func (st *runStats) report() { st.reportWindow(false) }

func (st *runStats) reportWindow(final bool) {
	c := st.cam
	el := time.Since(st.winStart)
	if (el < time.Second && !final) || el <= 0 || c.deps.Health == nil {
		return
	}
	fps := float64(st.winFrames) / el.Seconds()
	kbps := float64(st.winBytes) * 8 / 1000 / el.Seconds()
	total, wall, info, enc, flags := st.total, st.lastWall, st.info, st.encoder, st.imageFlags
	lost := st.decodeErrors.Load() + st.skipped.Load()
	if st.src != nil {
		lost += st.src.Dropped()
	}
	newLost := lost - st.lostSeen
	st.lostSeen = lost
	dropping := newLost > 0 && float64(newLost) > DropDegradeRatio*float64(uint64(st.winFrames)+newLost)
	if final {
		// The run is ending: exact totals only; the supervisor reports
		// the state that follows.
		c.deps.Health.UpdateCamera(c.cfg.ID, func(h *health.Camera) {
			h.Frames, h.Dropped = total, h.Dropped+newLost
			if !wall.IsZero() {
				h.LastFrame = wall
			}
		})
		return
	}
	if dropping {
		c.deps.Logger.Warn("camera dropping frames", "lost", newLost, "kept", st.winFrames, "window", el.Round(time.Millisecond))
	}
	c.deps.Health.UpdateCamera(c.cfg.ID, func(h *health.Camera) {
		h.FPS, h.Kbps, h.Frames, h.LastFrame = fps, kbps, total, wall
		h.Width, h.Height = info.Width, info.Height
		h.Encoder = enc
		h.Dropped += newLost
		switch {
		case dropping:
			h.State, h.Reason = health.StateDegraded, fmt.Sprintf("dropping frames: %d lost, %d kept in %.1f s", newLost, st.winFrames, el.Seconds())
		case len(flags) > 0:
			h.State, h.Reason = health.StateDegraded, "image: "+joinFlags(flags)
		case h.State == health.StateDegraded:
			h.State, h.Reason = health.StateRecording, ""
		}
	})
	st.winStart, st.winFrames, st.winBytes = time.Now(), 0, 0
}

// keepLook keeps a passthrough camera's look for the snapshot: its
// keyframe always, the decoded picture (taken over, not copied) only while
// someone asks for snapshots (SnapshotKeep).
func (c *Camera) keepLook(pic *media.Frame, key []byte, masks uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snapKey, c.snapTime, c.snap, c.snapMasks = key, pic.Wall, nil, masks
	if !c.snapAsked.IsZero() && time.Since(c.snapAsked) < SnapshotKeep {
		c.snap = pic
	}
}

// keepSnapshot copies f, a masked picture made under mask version masks,
// for the snapshot.
func (c *Camera) keepSnapshot(f *media.Frame, at time.Time, masks uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snapKey, c.snapMasks = nil, masks
	if c.snap == nil || c.snap.Width != f.Width || c.snap.Height != f.Height {
		c.snap = f.Clone()
	} else {
		copy(c.snap.Y, f.Y)
		copy(c.snap.U, f.U)
		copy(c.snap.V, f.V)
	}
	c.snapTime = at
}

// refuse counts an access unit larger than Deps.MaxAccessUnit (storage
// would refuse it) as dropped.
func (st *runStats) refuse(au media.AccessUnit) {
	st.skipped.Add(1)
	if st.refused.Add(1) == 1 || st.refused.Load()%100 == 0 {
		st.cam.deps.Logger.Warn("camera sent an oversized access unit; dropped up to the next keyframe",
			"camera", st.cam.cfg.ID, "bytes", len(au.Data), "max", st.cam.deps.MaxAccessUnit, "refused_total", st.refused.Load())
	}
}

// paramsChanged reports whether the keyframe au carries an SPS for another
// picture size than the last one seen in this run (not for the first). Only
// an SPS whose bytes changed is parsed (some encoders vary ids per IDR).
func (st *runStats) paramsChanged(au []byte) bool {
	for _, n := range codec.SplitAnnexB(au) {
		if len(n) == 0 || n[0]&0x1f != codec.NALSPS {
			continue
		}
		if bytes.Equal(n, st.sps) {
			return false
		}
		st.sps = append(st.sps[:0], n...)
		var p h264.SPS
		if err := p.Unmarshal(n); err != nil {
			return false
		}
		size := [2]int{p.Width(), p.Height()}
		changed := st.spsSize != [2]int{} && size != st.spsSize
		st.spsSize = size
		return changed
	}
	return false
}
