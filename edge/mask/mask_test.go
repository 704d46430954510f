package mask

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/edgerec/edgerec/edge/media"
)

// patternFrame returns a frame whose luma never equals 16 and whose chroma
// never equals 128, so burned-in fill is unambiguous.
func patternFrame(t testing.TB, w, h int) *media.Frame {
	t.Helper()
	f, err := media.NewFrame(w, h)
	if err != nil {
		t.Fatal(err)
	}
	for y := range h {
		for x := range w {
			f.Y[y*w+x] = byte(50 + (x*3+y*5)%150)
		}
	}
	for y := range h / 2 {
		for x := range w / 2 {
			f.U[y*w/2+x] = byte(130 + (x*7+y)%100)
			f.V[y*w/2+x] = byte(130 + (x+y*11)%100)
		}
	}
	return f
}

func rect(name string, x0, y0, x1, y1 float64) Mask {
	return Mask{Name: name, Polygon: []Point{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}}
}

func mustNew(t testing.TB, o Options, ms ...Mask) *Masker {
	t.Helper()
	m, err := New(ms, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkRect asserts that the luma pixels of every macroblock touching the
// rectangle [x0,x1)×[y0,y1), and of the GuardRings rings of macroblocks
// around them, are fill, and the chroma samples of those macroblocks too
// (the mask grown to the macroblock grid), everything else untouched.
func checkRect(t *testing.T, got, orig *media.Frame, x0, y0, x1, y1 int) {
	t.Helper()
	const mb = 16
	w, h := got.Width, got.Height
	g := GuardRings * mb
	x0, y0 = max(x0/mb*mb-g, 0), max(y0/mb*mb-g, 0)
	x1, y1 = min((x1+mb-1)/mb*mb+g, w), min((y1+mb-1)/mb*mb+g, h)
	for y := range h {
		for x := range w {
			in := x >= x0 && x < x1 && y >= y0 && y < y1
			g, o := got.Y[y*w+x], orig.Y[y*w+x]
			if in && g != DefaultFillY || !in && g != o {
				t.Fatalf("Y(%d,%d)=%d inside=%v (orig %d)", x, y, g, in, o)
			}
		}
	}
	cw := w / 2
	for y := range h / 2 {
		for x := range cw {
			in := 2*x >= x0 && 2*x < x1 && 2*y >= y0 && 2*y < y1
			for _, p := range []struct {
				name      string
				g, o, val byte
			}{{"U", got.U[y*cw+x], orig.U[y*cw+x], DefaultFillU}, {"V", got.V[y*cw+x], orig.V[y*cw+x], DefaultFillV}} {
				if in && p.g != p.val || !in && p.g != p.o {
					t.Fatalf("%s(%d,%d)=%d inside=%v (orig %d)", p.name, x, y, p.g, in, p.o)
				}
			}
		}
	}
}

// R2: a rectangle on pixel boundaries is masked pixel-exactly, chroma too.
func TestR2FillRectangleExact(t *testing.T) {
	for _, tc := range []struct {
		name           string
		w, h           int
		m              Mask
		x0, y0, x1, y1 int
	}{
		{"aligned", 64, 48, rect("a", 0.25, 0.25, 0.5, 0.75), 16, 12, 32, 36},
		{"on-grid", 64, 64, rect("g", 0.25, 0.25, 0.5, 0.75), 16, 16, 32, 48},
		// odd luma bounds: grown to whole macroblocks, chroma with them.
		{"odd-bounds", 40, 40, rect("b", 0.125, 0.125, 0.525, 0.775), 5, 5, 21, 31},
		// 1080 is coded as 1088: the last macroblock row has 8 visible rows.
		{"partial-last-mb-row", 64, 40, rect("p", 0.5, 0.9, 0.75, 0.95), 32, 36, 48, 38},
		{"touch-left-top", 32, 32, rect("c", 0, 0, 0.5, 0.25), 0, 0, 16, 8},
		{"touch-right-bottom", 32, 32, rect("d", 0.5, 0.75, 1, 1), 16, 24, 32, 32},
		{"full-frame", 30, 20, rect("e", 0, 0, 1, 1), 0, 0, 30, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := patternFrame(t, tc.w, tc.h)
			orig := f.Clone()
			out := mustNew(t, Options{}, tc.m).Apply(f)
			if out.Frame() != f {
				t.Fatal("Apply must mask in place and return the same frame")
			}
			checkRect(t, f, orig, tc.x0, tc.y0, tc.x1, tc.y1)
		})
	}
}

// R2: a full-frame mask becomes a single copy per plane.
func TestR2FullFrameOneRun(t *testing.T) {
	m := mustNew(t, Options{}, rect("all", 0, 0, 1, 1))
	m.Apply(patternFrame(t, 64, 32))
	if len(m.cur.fy) != 1 || len(m.cur.fc) != 1 || m.cur.fy[0].n != 64*32 {
		t.Fatalf("runs %v %v, want one per plane", m.cur.fy, m.cur.fc)
	}
}

// insideRef is an independent even-odd point-in-polygon test in pixels.
func insideRef(px, py float64, p []Point, w, h int) bool {
	in := false
	n := len(p)
	for i := range n {
		j := (i + n - 1) % n
		xi, yi := p[i].X*float64(w), p[i].Y*float64(h)
		xj, yj := p[j].X*float64(w), p[j].Y*float64(h)
		if (yi > py) != (yj > py) && px < (xj-xi)*(py-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

// edgeDist is the distance in pixels from (px,py) to the polygon outline.
func edgeDist(px, py float64, p []Point, w, h int) float64 {
	d := math.Inf(1)
	n := len(p)
	for i := range n {
		ax, ay := p[i].X*float64(w), p[i].Y*float64(h)
		bx, by := p[(i+1)%n].X*float64(w), p[(i+1)%n].Y*float64(h)
		dx, dy := bx-ax, by-ay
		t := ((px-ax)*dx + (py-ay)*dy) / (dx*dx + dy*dy)
		t = math.Max(0, math.Min(1, t))
		d = math.Min(d, math.Hypot(px-ax-t*dx, py-ay-t*dy))
	}
	return d
}

// mbOracle is an independent model of the masked area: a macroblock of the
// w×h picture's 16×16 grid is masked when the centre of one of its pixels
// is inside one of the polygons (insideRef). A macroblock is ambiguous when
// all its inside centres are within 1 px of an outline, or no centre is
// inside but one is within 1 px of an outline: the rasterizer may then
// decide either way (but for the whole macroblock at once).
func mbOracle(ms []Mask, w, h int) (masked, ambiguous []bool, cols int) {
	const mb = 16
	cols, mrows := (w+mb-1)/mb, (h+mb-1)/mb
	masked, ambiguous = make([]bool, cols*mrows), make([]bool, cols*mrows)
	for by := range mrows {
		for bx := range cols {
			sure, near := false, false
			for y := by * mb; y < min(by*mb+mb, h); y++ {
				for x := bx * mb; x < min(bx*mb+mb, w); x++ {
					cx, cy := float64(x)+0.5, float64(y)+0.5
					for _, m := range ms {
						close := edgeDist(cx, cy, m.Polygon, w, h) <= 1
						near = near || close
						sure = sure || (!close && insideRef(cx, cy, m.Polygon, w, h))
					}
				}
			}
			masked[by*cols+bx] = sure
			ambiguous[by*cols+bx] = !sure && near
		}
	}
	// Guard rings: a macroblock next to a masked one is masked; next to an
	// ambiguous one (and not masked) it is ambiguous.
	for range GuardRings {
		maybe := make([]bool, len(masked))
		for i := range masked {
			maybe[i] = masked[i] || ambiguous[i]
		}
		masked, maybe = dilate(masked, cols, mrows), dilate(maybe, cols, mrows)
		for i := range masked {
			ambiguous[i] = maybe[i] && !masked[i]
		}
	}
	return masked, ambiguous, cols
}

// dilate adds the 8 neighbours of every set macroblock.
func dilate(in []bool, cols, rows int) []bool {
	out := slices.Clone(in)
	for i, v := range in {
		if !v {
			continue
		}
		for r := max(i/cols-1, 0); r <= min(i/cols+1, rows-1); r++ {
			for c := max(i%cols-1, 0); c <= min(i%cols+1, cols-1); c++ {
				out[r*cols+c] = true
			}
		}
	}
	return out
}

// checkPolys asserts the macroblock-grown fill: every macroblock the oracle
// masks is fill in luma and chroma, every one it leaves is untouched, an
// ambiguous one is entirely one or the other.
func checkPolys(t *testing.T, got, orig *media.Frame, ms []Mask) {
	t.Helper()
	w, h := got.Width, got.Height
	masked, amb, cols := mbOracle(ms, w, h)
	cw := w / 2
	for i := range masked {
		bx, by := (i%cols)*16, (i/cols)*16
		var fill, kept, n int
		for y := by; y < min(by+16, h); y++ {
			for x := bx; x < min(bx+16, w); x++ {
				n++
				g, o := got.Y[y*w+x], orig.Y[y*w+x]
				if g == DefaultFillY {
					fill++
				}
				if g == o {
					kept++
				}
				if y%2 == 0 && x%2 == 0 {
					c := (y/2)*cw + x/2
					if g == DefaultFillY && (got.U[c] != DefaultFillU || got.V[c] != DefaultFillV) {
						t.Fatalf("chroma(%d,%d)=%d,%d in a filled macroblock, want fill", x/2, y/2, got.U[c], got.V[c])
					}
					if g == o && (got.U[c] != orig.U[c] || got.V[c] != orig.V[c]) {
						t.Fatalf("chroma(%d,%d) changed in an untouched macroblock", x/2, y/2)
					}
				}
			}
		}
		switch {
		case masked[i] && fill != n:
			t.Fatalf("macroblock (%d,%d) holds a masked pixel centre: %d of %d pixels fill", bx, by, fill, n)
		case !masked[i] && !amb[i] && kept != n:
			t.Fatalf("macroblock (%d,%d) is outside every mask: %d of %d pixels changed", bx, by, n-kept, n)
		case amb[i] && fill != n && kept != n:
			t.Fatalf("macroblock (%d,%d) on an outline is partly masked (%d fill of %d)", bx, by, fill, n)
		}
	}
}

// R2: triangles, concave polygons, edge-touching and overlapping masks.
func TestR2FillPolygons(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		ms   []Mask
	}{
		{"triangle", 96, 64, []Mask{{Name: "t", Polygon: []Point{{0.1, 0.1}, {0.9, 0.3}, {0.3, 0.9}}}}},
		{"concave-U", 80, 80, []Mask{{Name: "u", Polygon: []Point{{0.1, 0.1}, {0.3, 0.1}, {0.3, 0.6}, {0.7, 0.6}, {0.7, 0.1}, {0.9, 0.1}, {0.9, 0.9}, {0.1, 0.9}}}}},
		{"concave-star", 100, 100, []Mask{{Name: "s", Polygon: []Point{{0.5, 0.02}, {0.6, 0.4}, {0.98, 0.5}, {0.6, 0.6}, {0.5, 0.98}, {0.4, 0.6}, {0.02, 0.5}, {0.4, 0.4}}}}},
		{"touching-frame-edge", 64, 48, []Mask{{Name: "edge", Polygon: []Point{{0, 0}, {1, 0}, {0.5, 0.5}}}, {Name: "corner", Polygon: []Point{{1, 1}, {0.6, 1}, {1, 0.6}}}}},
		{"overlapping", 64, 64, []Mask{rect("a", 0.1, 0.1, 0.6, 0.6), rect("b", 0.4, 0.4, 0.9, 0.9)}},
		{"odd-size-diagonal", 34, 22, []Mask{{Name: "d", Polygon: []Point{{0.03, 0.2}, {0.97, 0.05}, {0.6, 0.95}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := patternFrame(t, tc.w, tc.h)
			orig := f.Clone()
			mustNew(t, Options{}, tc.ms...).Apply(f)
			checkPolys(t, f, orig, tc.ms)
		})
	}
}

// R2: a mask touching the frame edge covers the border pixels themselves;
// an 8 px strip fills the whole first macroblock column and, with the
// guard ring, the second one.
func TestR2MaskTouchingFrameEdgeCoversBorder(t *testing.T) {
	f := patternFrame(t, 64, 32)
	mustNew(t, Options{}, Mask{Name: "left", Polygon: []Point{{0, 0}, {1.0 / 8, 0}, {1.0 / 8, 1}, {0, 1}}}).Apply(f)
	edge := 16 * (1 + GuardRings)
	for y := range 32 {
		if f.Y[y*64] != DefaultFillY || f.Y[y*64+edge-1] != DefaultFillY || f.Y[y*64+edge] == DefaultFillY {
			t.Fatalf("row %d: column 0..%d must be masked and %d not", y, edge-1, edge)
		}
	}
}

// R2: masks are normalized; a resolution change re-rasterizes them.
func TestR2ResolutionChange(t *testing.T) {
	m := mustNew(t, Options{}, rect("w", 0.25, 0.5, 0.75, 1))
	for _, sz := range [][2]int{{64, 48}, {128, 96}, {64, 48}, {32, 16}} {
		w, h := sz[0], sz[1]
		f := patternFrame(t, w, h)
		orig := f.Clone()
		m.Apply(f)
		if m.cur.w != w || m.cur.h != h {
			t.Fatalf("cache is %dx%d after a %dx%d frame", m.cur.w, m.cur.h, w, h)
		}
		checkRect(t, f, orig, w/4, h/2, 3*w/4, h)
	}
}

// R2: pixelate grows to whole macroblocks (plus the guard ring) and
// leaves every cell of the (snapped) cell grid uniform there — the mean of
// the cell's pixels inside the grown area, quantized to
// PixelateLevelStep — with neutral chroma, and everything outside
// untouched.
func TestR2PixelateCellsUniform(t *testing.T) {
	const w, h = 96, 72 // 72: the last macroblock row is half outside
	poly := []Point{{0.05, 0.1}, {0.7, 0.05}, {0.5, 0.5}, {0.95, 0.9}, {0.1, 0.8}}
	for _, tc := range []struct{ block, want int }{{0, 16}, {2, 4}, {4, 4}, {6, 8}, {8, 8}, {12, 16}, {20, 32}} {
		t.Run(fmt.Sprint(tc.block), func(t *testing.T) {
			f := patternFrame(t, w, h)
			orig := f.Clone()
			m := mustNew(t, Options{Block: tc.block}, Mask{Name: "door", Style: StylePixelate, Polygon: poly})
			if m.Block() != tc.want {
				t.Fatalf("block %d snapped to %d, want %d", tc.block, m.Block(), tc.want)
			}
			m.Apply(f)
			masked, amb, cols := mbOracle([]Mask{{Polygon: poly}}, w, h)
			// A macroblock only an outline grazes is the rasterizer's call.
			own := growToMacroblocks(rasterize([][]Point{poly}, w, h), w, h, GuardRings)
			for i, a := range amb {
				if a {
					masked[i] = len(own.row((i/cols)*16)) > 0 && slices.ContainsFunc(own.row((i/cols)*16), func(s span) bool {
						return int(s.x0) <= (i%cols)*16 && (i%cols)*16 < int(s.x1)
					})
				}
			}
			check := func(name string, got, was []byte, stride, height, mb, b int, level func(mean int) int) {
				t.Helper()
				covered := func(x, y int) bool { return masked[(y/mb)*cols+x/mb] }
				cells := 0
				for by := 0; by < height; by += b {
					for bx := 0; bx < stride; bx += b {
						var sum, n int
						first := -1
						for y := by; y < min(by+b, height); y++ {
							for x := bx; x < min(bx+b, stride); x++ {
								i := y*stride + x
								if !covered(x, y) {
									if got[i] != was[i] {
										t.Fatalf("%s(%d,%d) outside the grown mask changed", name, x, y)
									}
									continue
								}
								sum += int(was[i])
								n++
								if first < 0 {
									first = int(got[i])
								} else if int(got[i]) != first {
									t.Fatalf("%s cell (%d,%d) not uniform inside the mask", name, bx, by)
								}
							}
						}
						if n == 0 {
							continue
						}
						cells++
						if want := level((sum + n/2) / n); first != want {
							t.Fatalf("%s cell (%d,%d) = %d, want mean %d", name, bx, by, first, want)
						}
					}
				}
				if cells < 4 {
					t.Fatalf("%s: only %d cells pixelated", name, cells)
				}
			}
			b := m.Block()
			quant := func(v int) int { return v/PixelateLevelStep*PixelateLevelStep + PixelateLevelStep/2 }
			neutral := func(int) int { return 128 }
			check("Y", f.Y, orig.Y, w, h, 16, b, quant)
			check("U", f.U, orig.U, w/2, h/2, 8, b/2, neutral)
			check("V", f.V, orig.V, w/2, h/2, 8, b/2, neutral)
		})
	}
}

// R2: where fill and pixelate overlap, fill wins.
func TestR2FillWinsOverPixelate(t *testing.T) {
	f := patternFrame(t, 64, 64)
	p := rect("p", 0, 0, 0.75, 0.75)
	p.Style = StylePixelate
	mustNew(t, Options{}, p, rect("f", 0.25, 0.25, 1, 1)).Apply(f)
	for y := 16; y < 64; y++ {
		for x := 16; x < 64; x++ {
			if f.Y[y*64+x] != DefaultFillY {
				t.Fatalf("Y(%d,%d)=%d, want fill", x, y, f.Y[y*64+x])
			}
		}
	}
}

// R2: custom fill colour.
func TestR2CustomFillColour(t *testing.T) {
	f := patternFrame(t, 16, 16)
	mustNew(t, Options{FillY: 235, FillU: 100, FillV: 200}, rect("a", 0, 0, 1, 1)).Apply(f)
	if f.Y[37] != 235 || f.U[5] != 100 || f.V[5] != 200 {
		t.Fatalf("got %d,%d,%d", f.Y[37], f.U[5], f.V[5])
	}
}

// R2: a Masker without masks still produces Masked (passthrough allowed
// only for cameras with no masks) and leaves the frame alone.
func TestR2NoMasks(t *testing.T) {
	m := mustNew(t, Options{})
	f := patternFrame(t, 16, 16)
	orig := f.Clone()
	if got := m.Apply(f).Frame(); got != f || string(got.Y) != string(orig.Y) || m.Len() != 0 {
		t.Fatal("no-mask Masker must wrap the frame unchanged")
	}
	if (Masked{}).Frame() != nil {
		t.Fatal("zero Masked must hold no frame")
	}
}

// Apply allocates nothing per frame after the first at a resolution.
func TestApplyZeroAllocs(t *testing.T) {
	p := rect("p", 0.5, 0.5, 0.9, 0.9)
	p.Style = StylePixelate
	m := mustNew(t, Options{}, rect("f", 0.1, 0.1, 0.4, 0.4), p)
	f := patternFrame(t, 320, 240)
	m.Apply(f)
	if n := testing.AllocsPerRun(20, func() { m.Apply(f) }); n != 0 {
		t.Fatalf("Apply allocates %v times per frame", n)
	}
}

func TestApplyPanicsOnMalformedFrame(t *testing.T) {
	m := mustNew(t, Options{}, rect("a", 0, 0, 1, 1))
	for name, f := range map[string]*media.Frame{
		"nil":         nil,
		"odd":         {Width: 3, Height: 2, Y: make([]byte, 6), U: make([]byte, 1), V: make([]byte, 1)},
		"short-plane": {Width: 4, Height: 4, Y: make([]byte, 15), U: make([]byte, 4), V: make([]byte, 4)},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			m.Apply(f)
		})
	}
}

// R2: validation names the mask and the offending point or field.
func TestR2Validate(t *testing.T) {
	sq := []Point{{0.1, 0.1}, {0.4, 0.1}, {0.4, 0.4}, {0.1, 0.4}}
	for _, tc := range []struct {
		name  string
		m     Mask
		want  string // "" = valid
		field string
		point int
	}{
		{"ok-fill", Mask{Name: "window", Polygon: sq}, "", "", 0},
		{"ok-pixelate", Mask{Name: "door", Style: StylePixelate, Polygon: sq}, "", "", 0},
		{"ok-concave", Mask{Name: "u", Polygon: []Point{{0, 0}, {0.3, 0}, {0.3, 0.5}, {0.6, 0.5}, {0.6, 0}, {1, 0}, {1, 1}, {0, 1}}}, "", "", 0},
		{"empty-name", Mask{Polygon: sq}, `mask "": name is empty`, "name", -1},
		{"style", Mask{Name: "w", Style: "blur", Polygon: sq}, `mask "w": unknown style "blur" (want fill or pixelate)`, "style", -1},
		{"two-points", Mask{Name: "door", Polygon: sq[:2]}, `mask "door": fewer than 3 points (has 2)`, "polygon", -1},
		{"x-out", Mask{Name: "window", Polygon: []Point{{0.1, 0.1}, {0.4, 0.1}, {1.2, 0.5}, {0.1, 0.4}}}, `mask "window": point 3 (1.20, 0.50): x outside 0..1`, "polygon", 2},
		{"y-neg", Mask{Name: "window", Polygon: []Point{{0.1, -0.1}, {0.4, 0.1}, {0.4, 0.5}}}, `mask "window": point 1 (0.10, -0.10): y outside 0..1`, "polygon", 0},
		{"nan", Mask{Name: "n", Polygon: []Point{{0.1, 0.1}, {math.NaN(), 0.1}, {0.4, 0.5}}}, `mask "n": point 2 (NaN, 0.10): x is not a number`, "polygon", 1},
		{"inf", Mask{Name: "n", Polygon: []Point{{0.1, 0.1}, {0.2, math.Inf(1)}, {0.4, 0.5}}}, `mask "n": point 2 (0.20, +Inf): y outside 0..1`, "polygon", 1},
		{"bowtie", Mask{Name: "bow", Polygon: []Point{{0.1, 0.1}, {0.4, 0.4}, {0.4, 0.1}, {0.1, 0.4}}}, `mask "bow": self-intersecting: edge from point 1 to point 2 crosses edge from point 3 to point 4`, "polygon", 2},
		{"vertex-on-edge", Mask{Name: "v", Polygon: []Point{{0, 0}, {1, 0}, {1, 1}, {0.5, 0}, {0, 1}}}, `mask "v": self-intersecting`, "polygon", -2},
		{"collinear", Mask{Name: "line", Polygon: []Point{{0.1, 0.1}, {0.2, 0.2}, {0.3, 0.3}}}, `mask "line": zero area (all points on one line)`, "polygon", -1},
		{"fold-back", Mask{Name: "f", Polygon: []Point{{0.1, 0.1}, {0.5, 0.1}, {0.3, 0.1}, {0.3, 0.5}}}, `mask "f": point 2 (0.50, 0.10): polygon folds back on itself`, "polygon", 1},
		{"repeat", Mask{Name: "r", Polygon: []Point{{0.1, 0.1}, {0.4, 0.1}, {0.4, 0.1}, {0.1, 0.4}}}, `mask "r": point 3 (0.40, 0.10) repeats point 2`, "polygon", 2},
		{"closed-explicitly", Mask{Name: "c", Polygon: append(append([]Point{}, sq...), sq[0])}, `mask "c": point 5 (0.10, 0.10) repeats point 1 (polygons close by themselves; drop the last point)`, "polygon", 4},
		{"too-many", Mask{Name: "big", Polygon: make([]Point, MaxPoints+1)}, `mask "big": too many points (257, at most 256)`, "polygon", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.m)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			var me *Error
			if !errors.As(err, &me) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not a *mask.Error wrapping ErrInvalid", err)
			}
			if me.Field != tc.field || (tc.point != -2 && me.Point != tc.point) {
				t.Fatalf("field %q point %d, want %q %d", me.Field, me.Point, tc.field, tc.point)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	good := rect("a", 0, 0, 0.5, 0.5)
	for _, tc := range []struct {
		name string
		ms   []Mask
		o    Options
		want string
	}{
		{"odd-block", []Mask{good}, Options{Block: 7}, "pixelate block 7"},
		{"neg-block", []Mask{good}, Options{Block: -2}, "pixelate block -2"},
		{"huge-block", []Mask{good}, Options{Block: 512}, "pixelate block 512"},
		{"dup-name", []Mask{good, good}, Options{}, `mask "a": name used by more than one mask`},
		{"invalid-mask", []Mask{good, {Name: "b"}}, Options{}, `mask "b": fewer than 3 points`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.ms, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	m := mustNew(t, Options{}, good)
	if m.o.Block != DefaultBlock || m.o.FillY != 16 || m.o.FillU != 128 || m.o.FillV != 128 || m.Len() != 1 {
		t.Fatalf("defaults not applied: %+v", m.o)
	}
}

// TestWeakened: a mask change weakens protection exactly when some pixel
// is less masked after than before (R27): deleting, shrinking or moving a
// mask and fill → pixelate do; adding, enlarging and pixelate → fill do
// not.
func TestWeakened(t *testing.T) {
	sq := func(name string, style Style, x0, y0, x1, y1 float64) Mask {
		return Mask{Name: name, Style: style, Polygon: []Point{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}}
	}
	win := sq("w", StyleFill, 0.1, 0.1, 0.4, 0.4)
	door := sq("d", StylePixelate, 0.6, 0.5, 0.9, 0.9)
	cases := []struct {
		name          string
		before, after []Mask
		weakened      bool
	}{
		{"unchanged", []Mask{win, door}, []Mask{door, win}, false},
		{"add", []Mask{win}, []Mask{win, door}, false},
		{"first mask", nil, []Mask{win}, false},
		{"enlarge", []Mask{win}, []Mask{sq("w", StyleFill, 0.05, 0.05, 0.45, 0.45)}, false},
		{"pixelate to fill", []Mask{door}, []Mask{sq("d", StyleFill, 0.6, 0.5, 0.9, 0.9)}, false},
		{"split into two covering the same", []Mask{win}, []Mask{sq("a", StyleFill, 0.1, 0.1, 0.25, 0.4), sq("b", StyleFill, 0.25, 0.1, 0.4, 0.4)}, false},
		{"delete", []Mask{win, door}, []Mask{door}, true},
		{"delete all", []Mask{win}, nil, true},
		{"shrink", []Mask{win}, []Mask{sq("w", StyleFill, 0.1, 0.1, 0.4, 0.39)}, true},
		{"move", []Mask{win}, []Mask{sq("w", StyleFill, 0.2, 0.1, 0.5, 0.4)}, true},
		{"fill to pixelate", []Mask{win}, []Mask{sq("w", StylePixelate, 0.1, 0.1, 0.4, 0.4)}, true},
		{"add one, delete another", []Mask{win}, []Mask{door}, true},
	}
	for _, c := range cases {
		n := Weakened(c.before, c.after, CompareW, CompareH)
		if (n > 0) != c.weakened {
			t.Errorf("%s: %d pixels weakened, want weakened=%v", c.name, n, c.weakened)
		}
	}
	// A one-pixel-row shrink on the grid counts.
	if n := Weakened([]Mask{win}, []Mask{sq("w", StyleFill, 0.1, 0.1, 0.4, 0.4-1.0/CompareH)}, CompareW, CompareH); n != 576 {
		t.Errorf("one row shrink: %d pixels, want 576", n)
	}
}

// R2 (issue 14): ApplyHeld keeps the pixelation cells' values until a
// refresh (the encoder's next keyframe), so the pixelated area does not
// change inside a GOP; Apply always refreshes.
func TestR2PixelateHeldUntilRefresh(t *testing.T) {
	m := mustNew(t, Options{}, Mask{Name: "p", Style: StylePixelate, Polygon: []Point{{0, 0}, {1, 0}, {1, 1}, {0, 1}}})
	frame := func(v byte) *media.Frame {
		f := patternFrame(t, 32, 32)
		for i := range f.Y {
			f.Y[i] = v
		}
		return f
	}
	if got := m.ApplyHeld(frame(40), false).Frame().Y[0]; got != 48 {
		t.Fatalf("first frame: Y %d, want 48 (40 quantized)", got)
	}
	if got := m.ApplyHeld(frame(200), false).Frame().Y[0]; got != 48 {
		t.Fatalf("held frame: Y %d, want the held 48", got)
	}
	if got := m.ApplyHeld(frame(200), true).Frame().Y[0]; got != 208 {
		t.Fatalf("refreshed frame: Y %d, want 208", got)
	}
	if got := m.Apply(frame(100)).Frame().Y[0]; got != 112 {
		t.Fatalf("Apply: Y %d, want 112", got)
	}
	if f := m.ApplyHeld(frame(100), false).Frame(); f.U[0] != 128 || f.V[0] != 128 {
		t.Fatalf("chroma %d,%d, want neutral 128", f.U[0], f.V[0])
	}
}
