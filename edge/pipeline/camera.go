package pipeline

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
)

// ErrNoSnapshot means the camera has not produced a picture yet.
var ErrNoSnapshot = errors.New("pipeline: no picture yet")

// CameraConfig is one camera's video settings.
type CameraConfig struct {
	ID               string
	Name             string
	Source           string
	Masks            []mask.Mask
	BitrateKbps      int
	KeyframeInterval time.Duration
}

// HealthSink receives the camera's health; *health.Tracker implements it.
type HealthSink interface {
	UpdateCamera(id string, fn func(*health.Camera))
}

// Opener opens a source by URL; source.Open fits.
type Opener func(ctx context.Context, url string, o source.Options) (source.Source, error)

// Deps are a camera's collaborators.
type Deps struct {
	Health HealthSink
	Logger *slog.Logger
	Open   Opener // nil = source.Open
	// Backoff bounds for restarts; zero values mean 1 s and 30 s.
	MinBackoff, MaxBackoff time.Duration
}

// Camera is one supervised camera pipeline.
type Camera struct {
	cfg  CameraConfig
	deps Deps
	hub  *Hub

	mu       sync.Mutex
	snap     *media.Frame // last masked picture, owned by the camera
	snapTime time.Time
}

// NewCamera validates cfg (masks included) and returns a camera that has
// not started yet.
func NewCamera(cfg CameraConfig, deps Deps) (*Camera, error) {
	if _, err := mask.New(cfg.Masks, mask.Options{}); err != nil {
		return nil, fmt.Errorf("camera %q: %w", cfg.ID, err)
	}
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
	return &Camera{cfg: cfg, deps: deps, hub: NewHub()}, nil
}

// ID is the camera's local id.
func (c *Camera) ID() string { return c.cfg.ID }

// Hub is where the camera's masked, coded video comes out.
func (c *Camera) Hub() *Hub { return c.hub }

// Snapshot returns the last masked picture and when it was taken.
func (c *Camera) Snapshot() (image.Image, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap == nil {
		return nil, time.Time{}, ErrNoSnapshot
	}
	return c.snap.Clone().YCbCr(), c.snapTime, nil
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
		if time.Since(started) > 2*c.deps.MaxBackoff {
			backoff = c.deps.MinBackoff
		}
		reason := "source ended"
		if err != nil {
			reason = err.Error()
		}
		c.deps.Logger.Warn("camera lost; restarting", "camera", c.cfg.ID, "err", reason, "retry_in", backoff)
		c.setState(health.StateLost, reason)
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
		h.Masked = len(c.cfg.Masks) > 0
	})
}

func (c *Camera) runOnce(ctx context.Context) error {
	src, err := c.deps.Open(ctx, c.cfg.Source, source.Options{})
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer src.Close()
	info := src.Info()
	masker, err := mask.New(c.cfg.Masks, mask.Options{})
	if err != nil {
		return err
	}
	enc, err := codec.NewEncoder(codec.EncoderConfig{
		Width: info.Width, Height: info.Height, FPS: info.FPS,
		BitrateKbps: c.cfg.BitrateKbps, KeyframeInterval: c.cfg.KeyframeInterval,
	})
	if err != nil {
		return err
	}
	defer enc.Close()

	var (
		winStart            = time.Now()
		winFrames, winBytes int
		total               uint64
		lastSnap            time.Time
		state               = health.StateStarting
	)
	for {
		f, err := src.Read(ctx)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		m := masker.Apply(f)
		if now := time.Now(); now.Sub(lastSnap) >= 500*time.Millisecond {
			c.keepSnapshot(m, f.Wall)
			lastSnap = now
		}
		au, ok, err := enc.Encode(m)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		c.hub.Publish(au)
		total++
		winFrames++
		winBytes += len(au.Data)
		if state != health.StateRecording {
			state = health.StateRecording
			c.setState(state, "")
		}
		if el := time.Since(winStart); el >= time.Second && c.deps.Health != nil {
			fps := float64(winFrames) / el.Seconds()
			kbps := float64(winBytes) * 8 / 1000 / el.Seconds()
			wall := f.Wall
			c.deps.Health.UpdateCamera(c.cfg.ID, func(h *health.Camera) {
				h.FPS, h.Kbps, h.Frames, h.LastFrame = fps, kbps, total, wall
				h.Width, h.Height = info.Width, info.Height
				h.Encoder = fmt.Sprintf("%s %d kbps, keyframe every %s", codec.Name, max(c.cfg.BitrateKbps, 0), c.cfg.KeyframeInterval)
			})
			winStart, winFrames, winBytes = time.Now(), 0, 0
		}
	}
}

func (c *Camera) keepSnapshot(m mask.Masked, at time.Time) {
	f := m.Frame()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap == nil || c.snap.Width != f.Width || c.snap.Height != f.Height {
		c.snap = f.Clone()
	} else {
		copy(c.snap.Y, f.Y)
		copy(c.snap.U, f.U)
		copy(c.snap.V, f.V)
	}
	c.snapTime = at
}
