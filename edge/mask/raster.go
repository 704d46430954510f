package mask

import (
	"math"
	"slices"
)

// span is a half-open run [x0, x1) of pixels on one row.
type span struct{ x0, x1 int32 }

// rows holds per-row spans: row y's spans are spans[start[y]:start[y+1]],
// sorted by x0, non-overlapping, non-adjacent and within [0, width].
type rows struct {
	spans []span
	start []int32 // len = height+1
}

func (r *rows) row(y int) []span { return r.spans[r.start[y]:r.start[y+1]] }

// scaled is a polygon in pixel coordinates of one resolution.
type scaled struct {
	x, y       []float64
	minY, maxY float64
}

func scale(p []Point, w, h int) scaled {
	s := scaled{x: make([]float64, len(p)), y: make([]float64, len(p)), minY: math.Inf(1), maxY: math.Inf(-1)}
	for i, q := range p {
		s.x[i] = q.X * float64(w)
		s.y[i] = q.Y * float64(h)
		s.minY = math.Min(s.minY, s.y[i])
		s.maxY = math.Max(s.maxY, s.y[i])
	}
	return s
}

// rasterize scan-converts the union of polygons (each even-odd) at w×h.
// A pixel belongs to a polygon when its centre (x+0.5, y+0.5) does; an
// edge counts for a scanline when the scanline is in [min y, max y) of the
// edge, so a centre exactly on a shared edge belongs to exactly one side.
// Coordinates outside the picture are clipped.
func rasterize(polys [][]Point, w, h int) rows {
	sp := make([]scaled, len(polys))
	for i, p := range polys {
		sp[i] = scale(p, w, h)
	}
	out := rows{start: make([]int32, h+1)}
	var xs []float64
	var tmp []span
	for y := range h {
		yc := float64(y) + 0.5
		tmp = tmp[:0]
		for _, s := range sp {
			if !(yc >= s.minY && yc < s.maxY) {
				continue
			}
			xs = xs[:0]
			n := len(s.x)
			for i := range n {
				j := i + 1
				if j == n {
					j = 0
				}
				y0, y1 := s.y[i], s.y[j]
				if (y0 <= yc) == (y1 <= yc) {
					continue
				}
				xs = append(xs, s.x[i]+(yc-y0)*(s.x[j]-s.x[i])/(y1-y0))
			}
			slices.Sort(xs)
			for k := 0; k+1 < len(xs); k += 2 {
				a := pixelEdge(xs[k], w)
				b := pixelEdge(xs[k+1], w)
				if a < b {
					tmp = append(tmp, span{a, b})
				}
			}
		}
		out.spans = appendMerged(out.spans, tmp)
		out.start[y+1] = int32(len(out.spans))
	}
	return out
}

// pixelEdge returns the first pixel whose centre is at or right of x,
// clipped to [0, w]. NaN clips to 0.
func pixelEdge(x float64, w int) int32 {
	v := math.Ceil(x - 0.5)
	if !(v > 0) {
		return 0
	}
	if v > float64(w) {
		return int32(w)
	}
	return int32(v)
}

// appendMerged sorts in (in place) and appends the union of its spans to
// dst, merging overlapping and touching spans.
func appendMerged(dst, in []span) []span {
	if len(in) == 0 {
		return dst
	}
	slices.SortFunc(in, func(a, b span) int { return int(a.x0) - int(b.x0) })
	cur := in[0]
	for _, s := range in[1:] {
		if s.x0 <= cur.x1 {
			cur.x1 = max(cur.x1, s.x1)
			continue
		}
		dst = append(dst, cur)
		cur = s
	}
	return append(dst, cur)
}

// chromaRows derives the chroma (half resolution) spans from luma spans:
// a chroma sample is covered when any luma pixel of its 2×2 block is.
func chromaRows(l rows, h int) rows {
	ch := h / 2
	out := rows{start: make([]int32, ch+1)}
	var tmp []span
	for cy := range ch {
		tmp = tmp[:0]
		for _, y := range [2]int{2 * cy, 2*cy + 1} {
			for _, s := range l.row(y) {
				tmp = append(tmp, span{s.x0 >> 1, (s.x1 + 1) >> 1})
			}
		}
		out.spans = appendMerged(out.spans, tmp)
		out.start[cy+1] = int32(len(out.spans))
	}
	return out
}

// run is a contiguous stretch of one plane: plane[off : off+n].
type run struct{ off, n int32 }

// fillRuns turns row spans into plane runs, joining runs that continue on
// the next row (a full-width mask becomes one run).
func fillRuns(r rows, stride int) []run {
	var out []run
	for y := range len(r.start) - 1 {
		for _, s := range r.row(y) {
			off := int32(y*stride) + s.x0
			n := s.x1 - s.x0
			if k := len(out) - 1; k >= 0 && out[k].off+out[k].n == off {
				out[k].n += n
				continue
			}
			out = append(out, run{off, n})
		}
	}
	return out
}

// cell is one pixelation cell: its runs are runs[r0:r1] and it has n pixels
// inside the mask.
type cell struct{ r0, r1, n int32 }

// cellRuns splits row spans into block×block cells aligned to (0,0). Only
// cells with at least one covered pixel are listed.
func cellRuns(r rows, stride, block int) ([]cell, []run) {
	var cells []cell
	var runs []run
	h := len(r.start) - 1
	cols := (stride + block - 1) / block
	per := make([][]run, cols)
	for by := 0; by < h; by += block {
		for c := range per {
			per[c] = per[c][:0]
		}
		for y := by; y < min(by+block, h); y++ {
			for _, s := range r.row(y) {
				for c := int(s.x0) / block; c*block < int(s.x1); c++ {
					x0 := max(int(s.x0), c*block)
					x1 := min(int(s.x1), (c+1)*block)
					per[c] = append(per[c], run{int32(y*stride + x0), int32(x1 - x0)})
				}
			}
		}
		for c := range per {
			if len(per[c]) == 0 {
				continue
			}
			r0 := int32(len(runs))
			var n int32
			for _, q := range per[c] {
				n += q.n
			}
			runs = append(runs, per[c]...)
			cells = append(cells, cell{r0, int32(len(runs)), n})
		}
	}
	return cells, runs
}

// MacroblockSize is the side of an H.264 macroblock in luma pixels. The
// encoder codes a picture in MacroblockSize×MacroblockSize blocks on a grid
// anchored at the top-left corner; a picture whose size is not a multiple of
// 16 is coded at the next multiple (1080 → 1088) and cropped, so the last
// row or column of macroblocks is partly outside the picture.
const MacroblockSize = 16

// growToMacroblocks returns the union of the macroblocks (on the coded
// picture's grid) that hold at least one pixel of r, plus guard rings of
// macroblocks around them (each ring adds the 8 neighbours of every
// macroblock already in), clipped to the w×h picture, as row spans. Every
// row of one macroblock row has the same spans.
func growToMacroblocks(r rows, w, h, guard int) rows {
	const mb = MacroblockSize
	cols, mrows := (w+mb-1)/mb, (h+mb-1)/mb
	hit := make([]bool, cols*mrows)
	for y := range h {
		for _, s := range r.row(y) {
			for c := int(s.x0) / mb; c <= int(s.x1-1)/mb; c++ {
				hit[(y/mb)*cols+c] = true
			}
		}
	}
	for range guard {
		grown := slices.Clone(hit)
		for i, in := range hit {
			if !in {
				continue
			}
			c0, r0 := i%cols, i/cols
			for rr := max(r0-1, 0); rr <= min(r0+1, mrows-1); rr++ {
				for cc := max(c0-1, 0); cc <= min(c0+1, cols-1); cc++ {
					grown[rr*cols+cc] = true
				}
			}
		}
		hit = grown
	}
	out := rows{start: make([]int32, h+1)}
	for br := range mrows {
		by := br * mb
		ey := min(by+mb, h)
		line := hit[br*cols : (br+1)*cols]
		first := int32(len(out.spans))
		for c := 0; c < cols; {
			if !line[c] {
				c++
				continue
			}
			c0 := c
			for c < cols && line[c] {
				c++
			}
			out.spans = append(out.spans, span{int32(c0 * mb), int32(min(c*mb, w))})
		}
		n := int32(len(out.spans)) - first
		out.start[by+1] = first + n
		for y := by + 1; y < ey; y++ {
			// Repeat the band's spans on every row of the band.
			out.spans = append(out.spans, out.spans[first:first+n]...)
			out.start[y+1] = int32(len(out.spans))
		}
	}
	return out
}
