package mask

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/edgerec/edgerec/edge/media"
)

// polyFromBytes turns 4 bytes per point into coordinates in [-0.25, 1.25],
// so the rasterizer also sees points outside the picture.
func polyFromBytes(b []byte) []Point {
	var p []Point
	for len(b) >= 4 && len(p) < 64 {
		x := float64(binary.LittleEndian.Uint16(b))/65535*1.5 - 0.25
		y := float64(binary.LittleEndian.Uint16(b[2:]))/65535*1.5 - 0.25
		p = append(p, Point{x, y})
		b = b[4:]
	}
	return p
}

func checkRows(t *testing.T, what string, r rows, w, h int) {
	t.Helper()
	if len(r.start) != h+1 || r.start[0] != 0 || int(r.start[h]) != len(r.spans) {
		t.Fatalf("%s: bad row index (len %d, h %d)", what, len(r.start), h)
	}
	for y := range h {
		if r.start[y] > r.start[y+1] {
			t.Fatalf("%s: row %d index decreases", what, y)
		}
		prev := int32(-1)
		for _, s := range r.row(y) {
			if s.x0 < 0 || s.x1 > int32(w) || s.x0 >= s.x1 || s.x0 <= prev {
				t.Fatalf("%s: row %d span [%d,%d) out of order or bounds (w %d, prev end %d)", what, y, s.x0, s.x1, w, prev)
			}
			prev = s.x1
		}
	}
}

// guarded returns a frame whose planes sit between guard bytes.
func guarded(w, h int) (*media.Frame, []byte, [][2]int) {
	const g = 64
	ny, nc := w*h, (w/2)*(h/2)
	buf := make([]byte, g+ny+g+nc+g+nc+g)
	for i := range buf {
		buf[i] = 0xA5
	}
	y0 := g
	u0 := y0 + ny + g
	v0 := u0 + nc + g
	f := &media.Frame{Width: w, Height: h,
		Y: buf[y0 : y0+ny : y0+ny], U: buf[u0 : u0+nc : u0+nc], V: buf[v0 : v0+nc : v0+nc]}
	for i := range f.Y {
		f.Y[i] = byte(i * 13)
	}
	for i := range f.U {
		f.U[i], f.V[i] = byte(i*7), byte(i*3)
	}
	return f, buf, [][2]int{{0, y0}, {y0 + ny, u0}, {u0 + nc, v0}, {v0 + nc, len(buf)}}
}

// FuzzRasterize: random polygons never panic, spans are sorted and within
// bounds, and Apply never writes outside the frame (R2).
func FuzzRasterize(f *testing.F) {
	f.Add(uint16(32), uint16(24), []byte{0, 0, 0, 0, 255, 255, 0, 0, 255, 255, 255, 255})
	f.Add(uint16(7), uint16(3), []byte{1, 2, 3, 4, 200, 100, 50, 25, 9, 9, 250, 250, 100, 0, 0, 100})
	f.Fuzz(func(t *testing.T, ws, hs uint16, pts []byte) {
		w, h := 2+2*int(ws%200), 2+2*int(hs%150)
		p := polyFromBytes(pts)
		ly := rasterize([][]Point{p}, w, h)
		checkRows(t, "luma", ly, w, h)
		lc := chromaRows(ly, h)
		checkRows(t, "chroma", lc, w/2, h/2)
		checkGrown(t, ly, growToMacroblocks(ly, w, h, 0), w, h)
		for _, c := range []struct {
			r      rows
			stride int
			block  int
		}{{ly, w, 16}, {lc, w / 2, 8}} {
			cells, runs := cellRuns(c.r, c.stride, c.block)
			for _, ce := range cells {
				if ce.n <= 0 || ce.r0 >= ce.r1 || int(ce.r1) > len(runs) {
					t.Fatalf("bad cell %+v", ce)
				}
			}
		}

		// Clamp into the picture so that many inputs pass Validate, then
		// burn them in through the public API.
		q := make([]Point, len(p))
		for i, v := range p {
			q[i] = Point{math.Max(0, math.Min(1, v.X)), math.Max(0, math.Min(1, v.Y))}
		}
		fillM := Mask{Name: "f", Polygon: q}
		if Validate(fillM) != nil {
			return
		}
		pixM := Mask{Name: "p", Style: StylePixelate, Polygon: q}
		for k, ms := range [][]Mask{{fillM}, {pixM}} {
			m, err := New(ms, Options{Block: 4})
			if err != nil {
				t.Fatal(err)
			}
			fr, buf, guards := guarded(w, h)
			orig := fr.Clone()
			m.Apply(fr)
			for _, g := range guards {
				for i := g[0]; i < g[1]; i++ {
					if buf[i] != 0xA5 {
						t.Fatalf("Apply wrote outside the frame at byte %d", i)
					}
				}
			}
			// Luma changes only on covered pixels (grown to macroblocks).
			rings := []int{GuardRings, PixelateGuardRings}[k]
			r := growToMacroblocks(rasterize([][]Point{q}, w, h), w, h, rings)
			for y := range h {
				x := 0
				for _, s := range r.row(y) {
					for ; x < int(s.x0); x++ {
						if fr.Y[y*w+x] != orig.Y[y*w+x] {
							t.Fatalf("Y(%d,%d) outside the mask changed", x, y)
						}
					}
					x = int(s.x1)
				}
				for ; x < w; x++ {
					if fr.Y[y*w+x] != orig.Y[y*w+x] {
						t.Fatalf("Y(%d,%d) outside the mask changed", x, y)
					}
				}
			}
		}
	})
}

// checkGrown: g holds every pixel of r, every row of a macroblock row has
// the same spans, and every span starts on the grid and ends on it or at
// the picture's right edge.
func checkGrown(t *testing.T, r, g rows, w, h int) {
	t.Helper()
	checkRows(t, "grown", g, w, h)
	for y := range h {
		gs := g.row(y)
		for _, s := range gs {
			if s.x0%16 != 0 || (s.x1%16 != 0 && int(s.x1) != w) {
				t.Fatalf("grown row %d: span [%d,%d) off the macroblock grid", y, s.x0, s.x1)
			}
		}
		if y%16 != 0 && !slices.Equal(gs, g.row(y-1)) {
			t.Fatalf("grown rows %d and %d differ inside one macroblock row", y-1, y)
		}
		for _, s := range r.row(y) {
			ok := false
			for _, o := range gs {
				ok = ok || (o.x0 <= s.x0 && s.x1 <= o.x1)
			}
			if !ok {
				t.Fatalf("row %d: span [%d,%d) not inside the grown area %v", y, s.x0, s.x1, gs)
			}
		}
	}
}
