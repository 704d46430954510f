package mask

// CompareW×CompareH is the fixed grid Weakened compares masks on (Full HD, the
// largest common camera resolution: a loss of one pixel there counts).
const CompareW, CompareH = 1920, 1080

// Weakened returns how many pixels of a w×h picture are protected less by
// after than by before (R27): a pixel filled before and not filled after,
// or masked (fill or pixelate) before and not masked at all after. Zero
// means after protects every pixel at least as strongly as before
// (adding or enlarging a mask, pixelate → fill). Masks are rasterized as
// Apply does (pixel centres, even-odd, union); they are not validated.
func Weakened(before, after []Mask, w, h int) int {
	bFill, bAny := split(before)
	aFill, aAny := split(after)
	bf, ba := rasterize(bFill, w, h), rasterize(bAny, w, h)
	af, aa := rasterize(aFill, w, h), rasterize(aAny, w, h)
	// |bf\af ∪ ba\aa| = |bf\af| + |ba\aa| - |bf\aa| (af ⊆ aa, bf ⊆ ba).
	return lost(bf, af, h) + lost(ba, aa, h) - lost(bf, aa, h)
}

// split returns the fill polygons and all polygons of ms.
func split(ms []Mask) (fill, all [][]Point) {
	for _, m := range ms {
		all = append(all, m.Polygon)
		if m.Style != StylePixelate {
			fill = append(fill, m.Polygon)
		}
	}
	return fill, all
}

// lost counts the pixels covered by a and not by b.
func lost(a, b rows, h int) int {
	n := 0
	for y := range h {
		bs := b.row(y)
		for _, s := range a.row(y) {
			n += int(s.x1 - s.x0)
			for _, t := range bs {
				lo, hi := max(s.x0, t.x0), min(s.x1, t.x1)
				if lo < hi {
					n -= int(hi - lo)
				}
			}
		}
	}
	return n
}
