package config

import (
	"time"

	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/policy/rules"
)

// Demo returns the configuration of `edgerec run --demo`: device "demo", one
// 1280×720 test-pattern camera "demo1" at an entrance with signage attested,
// a fill mask "window" over the top-left and a pixelate mask "door" over the
// bottom-right (each about 10% of the picture, well apart), a 256MiB ring
// in dataDir and the LAN page on 127.0.0.1:8443. It passes Validate when
// dataDir is absolute.
func Demo(dataDir string) *Config {
	c := &Config{
		Device:  Device{ID: "demo", Site: "Demo site"},
		Storage: Storage{DataDir: dataDir, RingSize: 256 << 20},
		Cameras: []Camera{{
			ID:      "demo1",
			Name:    "Demo camera",
			Source:  "test://pattern?width=1280&height=720&fps=15",
			Zone:    rules.ZoneEntrance,
			Signage: Signage{AttestedBy: "edgerec demo", Date: Date{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
			Masks: []Mask{
				// 0.30 × 0.32 ≈ 9.6% of the picture, top-left.
				{Name: "window", Style: mask.StyleFill, Polygon: [][]float64{{0.05, 0.08}, {0.35, 0.08}, {0.35, 0.40}, {0.05, 0.40}}},
				// 0.25 × 0.40 = 10% of the picture, bottom-right.
				{Name: "door", Style: mask.StylePixelate, Polygon: [][]float64{{0.65, 0.50}, {0.90, 0.50}, {0.90, 0.90}, {0.65, 0.90}}},
			},
		}},
		LAN: LAN{Listen: "127.0.0.1:8443"},
	}
	c.applyDefaults()
	return c
}
