package mask

import (
	"fmt"

	"github.com/edgerec/edgerec/edge/media"
)

// Options tune a Masker. The zero value means: video black fill
// (Y=16, U=128, V=128) and 16-pixel pixelation blocks.
type Options struct {
	// FillY, FillU, FillV is the fill colour. If all three are zero the
	// default video black (16, 128, 128) is used.
	FillY, FillU, FillV uint8
	// Block is the pixelation cell size in luma pixels: 0 means 16,
	// otherwise it must be even and in 2..256. It is snapped up to the
	// macroblock grid (see SnapBlock): 2..4 → 4, 6..8 → 8, above that the
	// next multiple of 16, so no cell straddles a macroblock edge and no
	// cell is smaller than asked.
	Block int
}

// Default option values.
const (
	DefaultFillY = 16
	DefaultFillU = 128
	DefaultFillV = 128
	DefaultBlock = 16
	maxBlock     = 256
)

// Masked is a frame whose masks have been burned in. The only way to get
// one is Masker.Apply, so a function that accepts Masked (encoders, the live
// view) cannot be handed unmasked pixels by mistake. The zero Masked holds
// no frame.
type Masked struct{ f *media.Frame }

// Frame returns the masked frame (nil for the zero Masked). The caller must
// not write into the returned frame's masked areas.
func (m Masked) Frame() *media.Frame { return m.f }

// Masker burns a fixed set of masks into frames. It caches the rasterized
// masks for the last resolution it saw. A Masker is for use by one
// goroutine at a time.
type Masker struct {
	fill, pix [][]Point // polygons by style
	n         int
	o         Options
	cur       *raster
}

// raster is everything Apply needs for one resolution.
type raster struct {
	w, h int
	// fill: runs in the Y plane and in the U/V planes (same geometry),
	// and pre-filled source rows as long as the longest run.
	fy, fc           []run
	bufY, bufU, bufV []byte
	pyCells, pcCells []cell
	pyRuns, pcRuns   []run
	// held: the luma value of every pixelation cell, kept between
	// refreshes (ApplyHeld); valid once held is true.
	heldY []byte
	held  bool
}

// New validates masks and opts and returns a Masker (NewSet, then
// Set.Masker). Mask names must be unique. A Masker with no masks is valid:
// Apply then only wraps the frame.
func New(masks []Mask, o Options) (*Masker, error) {
	s, err := NewSet(masks)
	if err != nil {
		return nil, err
	}
	return s.Masker(o)
}

// Len returns the number of masks.
func (m *Masker) Len() int { return m.n }

// Pixelates reports whether any mask is pixelated. An encoder needs to
// know: pixelation cells stay flat only at openh264's medium complexity,
// fill stays exact at the low one too (edge/codec, "Masks and the
// encoder").
func (m *Masker) Pixelates() bool { return len(m.pix) > 0 }

// Apply burns the masks into f in place and returns it as Masked; the
// pixelation cells take this frame's values. The first frame at a
// resolution rasterizes the masks (allocating); later frames at that
// resolution do not allocate. Apply panics if f breaks media.Frame's
// invariants (positive even size, planes of the documented lengths), since
// it could then neither mask nor prove the frame safe.
func (m *Masker) Apply(f *media.Frame) Masked { return m.ApplyHeld(f, true) }

// ApplyHeld is Apply for an encoder's stream: the pixelation cells take
// this frame's values only when refresh is true (the caller passes true
// for a picture that will be coded as a keyframe) or at the first frame of
// a resolution, and otherwise keep the values they had, so that inside a
// GOP the pixelated area does not change and predicted pictures code it
// unchanged (see the package documentation, "Styles").
func (m *Masker) ApplyHeld(f *media.Frame, refresh bool) Masked {
	if m.n == 0 {
		return Masked{f}
	}
	checkFrame(f)
	r := m.cur
	if r == nil || r.w != f.Width || r.h != f.Height {
		r = m.build(f.Width, f.Height)
		m.cur = r
	}
	if len(r.pyCells) > 0 {
		if refresh || !r.held {
			cellMeans(f.Y, r.pyCells, r.pyRuns, r.heldY)
			r.held = true
		}
		pixelate(f.Y, r.pyCells, r.pyRuns, r.heldY)
		for _, q := range r.pcRuns {
			clear128(f.U[q.off : q.off+q.n])
			clear128(f.V[q.off : q.off+q.n])
		}
	}
	for _, q := range r.fy {
		copy(f.Y[q.off:q.off+q.n], r.bufY)
	}
	for _, q := range r.fc {
		copy(f.U[q.off:q.off+q.n], r.bufU)
		copy(f.V[q.off:q.off+q.n], r.bufV)
	}
	return Masked{f}
}

func checkFrame(f *media.Frame) {
	if f == nil {
		panic("mask: Apply on a nil frame")
	}
	w, h := f.Width, f.Height
	if w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 ||
		len(f.Y) != w*h || len(f.U) != (w/2)*(h/2) || len(f.V) != (w/2)*(h/2) {
		panic(fmt.Sprintf("mask: Apply on a malformed %dx%d frame (planes %d/%d/%d bytes)", w, h, len(f.Y), len(f.U), len(f.V)))
	}
}

// SnapBlock returns the pixelation cell size Apply uses for a requested
// size b (even, 2..256): the smallest of 4, 8 or a multiple of
// MacroblockSize that is at least b. Such cells tile the macroblock grid:
// 4 and 8 divide a macroblock (and match the 4×4 transform), multiples of
// 16 are whole macroblocks.
func SnapBlock(b int) int {
	switch {
	case b <= 4:
		return 4
	case b <= 8:
		return 8
	}
	return (b + MacroblockSize - 1) / MacroblockSize * MacroblockSize
}

// Block returns the pixelation cell size in luma pixels after snapping.
func (m *Masker) Block() int { return m.o.Block }

// build rasterizes the masks for w×h: each style's polygons are scan
// converted (pixel centres) and grown to whole macroblocks.
func (m *Masker) build(w, h int) *raster {
	r := &raster{w: w, h: h}
	if len(m.fill) > 0 {
		ly := growToMacroblocks(rasterize(m.fill, w, h), w, h, GuardRings)
		lc := chromaRows(ly, h)
		r.fy = fillRuns(ly, w)
		r.fc = fillRuns(lc, w/2)
		r.bufY = filled(maxRun(r.fy), m.o.FillY)
		r.bufU = filled(maxRun(r.fc), m.o.FillU)
		r.bufV = filled(maxRun(r.fc), m.o.FillV)
	}
	if len(m.pix) > 0 {
		ly := growToMacroblocks(rasterize(m.pix, w, h), w, h, PixelateGuardRings)
		lc := chromaRows(ly, h)
		r.pyCells, r.pyRuns = cellRuns(ly, w, m.o.Block)
		r.pcCells, r.pcRuns = cellRuns(lc, w/2, m.o.Block/2)
		r.heldY = make([]byte, len(r.pyCells))
	}
	return r
}

func maxRun(rs []run) int {
	n := 0
	for _, q := range rs {
		n = max(n, int(q.n))
	}
	return n
}

func filled(n int, v byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// GuardRings is how many rings of macroblocks are added around the
// macroblocks a mask touches (see the package documentation,
// "Macroblock grid").
const GuardRings = 1

// PixelateGuardRings is the ring count for pixelate masks: one more than
// fill, because a pixelated area is not one flat value but cells of
// different levels, and at openh264's top QP a predicted cell next to
// moving content takes a shifted copy of its neighbour (see the package
// documentation, "Macroblock grid").
const PixelateGuardRings = 2

// PixelateLevelStep is the luma step of pixelation cell values: a cell's
// mean is quantized to the middle of its step (16, 48, …, 240), eight
// levels (see the package documentation, "Styles").
const PixelateLevelStep = 32

// cellMeans stores each cell's mean, quantized to PixelateLevelStep, in
// out.
func cellMeans(plane []byte, cells []cell, runs []run, out []byte) {
	for i, c := range cells {
		var sum uint32
		for _, q := range runs[c.r0:c.r1] {
			for _, v := range plane[q.off : q.off+q.n] {
				sum += uint32(v)
			}
		}
		mean := (sum + uint32(c.n)/2) / uint32(c.n)
		out[i] = byte(mean/PixelateLevelStep*PixelateLevelStep + PixelateLevelStep/2)
	}
}

// pixelate sets the covered pixels of each cell to its value.
func pixelate(plane []byte, cells []cell, runs []run, vals []byte) {
	for i, c := range cells {
		v := vals[i]
		for _, q := range runs[c.r0:c.r1] {
			row := plane[q.off : q.off+q.n]
			for k := range row {
				row[k] = v
			}
		}
	}
}

// clear128 sets chroma to neutral (no colour).
func clear128(b []byte) {
	for i := range b {
		b[i] = 128
	}
}
