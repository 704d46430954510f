package pipeline

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/media"
)

// Image health flags (R10).
const (
	ImageBlack   = "black"   // the picture is (nearly) black
	ImageCovered = "covered" // the picture has no detail: lens covered, sprayed, defocused, pointed at a wall
	ImageFrozen  = "frozen"  // the picture has not changed for FrozenAfter
)

// ImageHealthConfig tunes the detector. Zero values take the defaults.
type ImageHealthConfig struct {
	Grid        int           // luma is sampled as Grid×Grid cell means (default 32)
	BlackLuma   float64       // mean luma below this is black (default 28)
	FlatStdDev  float64       // cell-mean std-dev below this is "no detail" (default 4)
	FrozenDiff  float64       // mean |Δ| of cell means below this is "unchanged" (default 0.05)
	FrozenAfter time.Duration // unchanged this long is frozen (default 10 s)
	HoldFor     time.Duration // a condition must last this long to be raised (default 3 s)
}

// ImageHealth detects black, covered and frozen pictures from a sample of
// cell means (cheap: a few thousand pixels per picture). It looks at the
// picture before masking, in memory only; masked areas are static by
// design and would otherwise look frozen.
type ImageHealth struct {
	cfg       ImageHealthConfig
	prev      []float64
	cur       []float64
	since     map[string]time.Time
	unchanged time.Time
}

// NewImageHealth returns a detector.
func NewImageHealth(cfg ImageHealthConfig) *ImageHealth {
	if cfg.Grid <= 0 {
		cfg.Grid = 32
	}
	if cfg.BlackLuma <= 0 {
		cfg.BlackLuma = 28
	}
	if cfg.FlatStdDev <= 0 {
		cfg.FlatStdDev = 4
	}
	if cfg.FrozenDiff <= 0 {
		cfg.FrozenDiff = 0.05
	}
	if cfg.FrozenAfter <= 0 {
		cfg.FrozenAfter = 10 * time.Second
	}
	if cfg.HoldFor <= 0 {
		cfg.HoldFor = 3 * time.Second
	}
	return &ImageHealth{cfg: cfg, since: map[string]time.Time{}}
}

// Observe takes one picture (its Wall time is the clock) and returns the
// flags that currently hold, sorted.
func (h *ImageHealth) Observe(f *media.Frame) []string {
	g := h.cfg.Grid
	if f.Width < g || f.Height < g {
		return nil
	}
	now := f.Wall
	if now.IsZero() {
		now = time.Now()
	}
	if cap(h.cur) < g*g {
		h.cur = make([]float64, g*g)
	}
	h.cur = h.cur[:g*g]
	cw, ch := f.Width/g, f.Height/g
	// Sample every 4th pixel of every 4th row of each cell.
	var sum, sq float64
	for gy := 0; gy < g; gy++ {
		for gx := 0; gx < g; gx++ {
			var s, n float64
			for y := gy * ch; y < (gy+1)*ch; y += 4 {
				row := f.Y[y*f.Width+gx*cw : y*f.Width+(gx+1)*cw]
				for x := 0; x < len(row); x += 4 {
					s += float64(row[x])
					n++
				}
			}
			m := s / math.Max(n, 1)
			h.cur[gy*g+gx] = m
			sum += m
			sq += m * m
		}
	}
	cells := float64(g * g)
	mean := sum / cells
	sd := math.Sqrt(math.Max(sq/cells-mean*mean, 0))
	raw := map[string]bool{}
	if mean < h.cfg.BlackLuma && sd < 2*h.cfg.FlatStdDev {
		raw[ImageBlack] = true
	} else if sd < h.cfg.FlatStdDev {
		raw[ImageCovered] = true
	}
	if h.prev != nil {
		var d float64
		for i, v := range h.cur {
			d += math.Abs(v - h.prev[i])
		}
		if d/cells < h.cfg.FrozenDiff {
			if h.unchanged.IsZero() {
				h.unchanged = now
			}
			if now.Sub(h.unchanged) >= h.cfg.FrozenAfter {
				raw[ImageFrozen] = true
			}
		} else {
			h.unchanged = time.Time{}
		}
	}
	h.prev, h.cur = h.cur, h.prev
	var out []string
	for _, k := range []string{ImageBlack, ImageCovered, ImageFrozen} {
		if !raw[k] {
			delete(h.since, k)
			continue
		}
		if _, ok := h.since[k]; !ok {
			h.since[k] = now
		}
		if k == ImageFrozen || now.Sub(h.since[k]) >= h.cfg.HoldFor {
			out = append(out, k)
		}
	}
	return out
}

func equalFlags(a, b []string) bool { return slices.Equal(a, b) }

func joinFlags(f []string) string { return strings.Join(f, ", ") }

// reportImage raises or clears the camera's image-health warnings.
func (c *Camera) reportImage(flags []string) {
	sink := c.deps.Health
	if c.deps.ImageHealth != nil {
		sink = c.deps.ImageHealth
	}
	if sink == nil {
		return
	}
	set := map[string]bool{}
	for _, f := range flags {
		set[f] = true
	}
	var bits health.ImageFlags
	for _, f := range []string{ImageBlack, ImageCovered, ImageFrozen} {
		key := health.CameraCode("image."+f, c.cfg.ID)
		if set[f] {
			bits |= imageBit(f)
			sink.Warn(key, "camera "+c.cfg.ID+": picture "+f+" (R10)")
			c.deps.Logger.Warn("image health", "camera", c.cfg.ID, "flag", f)
		} else {
			sink.Clear(key)
		}
	}
	sink.UpdateCamera(c.cfg.ID, func(h *health.Camera) { h.Image = bits })
}

func imageBit(flag string) health.ImageFlags {
	switch flag {
	case ImageBlack:
		return health.ImageBlack
	case ImageCovered:
		return health.ImageObstructed
	case ImageFrozen:
		return health.ImageFrozen
	}
	return 0
}
