package web

import (
	"image"
	"image/color"
	"image/draw"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/edgerec/edgerec/edge/media"
)

// watermark returns a copy of src with text (viewer and time, R18) on a dark
// band in the bottom-left corner. The band only darkens the picture; it
// never reveals anything a mask covers. The glyphs are the 7×13 ASCII face
// scaled up with the picture width so they stay readable on a phone.
func watermark(src image.Image, text string) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)

	face := basicfont.Face7x13
	const pad = 2
	tw := font.MeasureString(face, text).Ceil() + 2*pad
	th := face.Height + 2*pad
	txt := image.NewRGBA(image.Rect(0, 0, tw, th))
	d := font.Drawer{Dst: txt, Src: image.White, Face: face, Dot: fixed.P(pad, pad+face.Ascent)}
	d.DrawString(text)

	w, h := dst.Bounds().Dx(), dst.Bounds().Dy()
	scale := max(1, min(w/640, w*9/10/tw, h/(4*th)))
	band := image.Rect(0, h-th*scale, tw*scale, h).Intersect(dst.Bounds())
	draw.Draw(dst, band, image.NewUniform(color.NRGBA{A: 170}), image.Point{}, draw.Over)
	xdraw.NearestNeighbor.Scale(dst, image.Rect(0, h-th*scale, tw*scale, h), txt, txt.Bounds(), xdraw.Over, nil)
	return dst
}

// Burn-in on I420 frames (played-back video, R18).
const (
	burnPad    = 2   // font pixels around the text
	burnYBlack = 16  // video black: the darkened band tends to it
	burnYText  = 235 // video white: the glyphs
	burnCNeut  = 128 // neutral chroma
)

// textLine is one line of text rendered with the 7×13 face at scale 1:
// ink[y*w+x] is true where a glyph covers the font pixel.
type textLine struct {
	text string
	w, h int
	ink  []bool
}

func renderLine(text string) textLine {
	face := basicfont.Face7x13
	w, h := max(1, font.MeasureString(face, text).Ceil()), face.Height
	img := image.NewAlpha(image.Rect(0, 0, w, h))
	d := font.Drawer{Dst: img, Src: image.Opaque, Face: face, Dot: fixed.P(0, face.Ascent)}
	d.DrawString(text)
	l := textLine{text: text, w: w, h: h, ink: make([]bool, w*h)}
	for i, a := range img.Pix {
		l.ink[i] = a > 127
	}
	return l
}

// burner draws lines of text on a dark band in the bottom-left corner of
// I420 frames. The band only darkens: luma is pulled towards video black
// and chroma towards neutral, each sample from its own value alone, so a
// fill mask (video black) stays exactly the fill colour and no masked
// area gains any detail; the glyphs are constant video white. Lines are
// left-aligned and stacked at the font's line height; the scale grows
// with the picture so the text stays readable. Rendered lines are cached
// until their text changes (the times change once a second). Not safe for
// concurrent use.
type burner struct {
	lines []textLine
}

// draw burns texts into f.
func (b *burner) draw(f *media.Frame, texts ...string) {
	if len(b.lines) != len(texts) {
		b.lines = make([]textLine, len(texts))
	}
	tw := 0
	for i, t := range texts {
		if b.lines[i].ink == nil || b.lines[i].text != t {
			b.lines[i] = renderLine(t)
		}
		tw = max(tw, b.lines[i].w)
	}
	lh := basicfont.Face7x13.Height
	bw, bh := tw+2*burnPad, len(texts)*lh+2*burnPad
	w, h := f.Width, f.Height
	s := max(1, min(w/640, w*9/10/bw, h/(4*bh)))
	x1 := min(w, (bw*s+1)&^1)
	y0 := max(0, (h-bh*s)&^1)
	// Darken the band.
	for y := y0; y < h; y++ {
		row := f.Y[y*w : y*w+x1]
		for x, v := range row {
			if v > burnYBlack {
				row[x] = burnYBlack + (v-burnYBlack)/3
			}
		}
	}
	cw := w / 2
	for y := y0 / 2; y < h/2; y++ {
		for _, pl := range [][]byte{f.U, f.V} {
			row := pl[y*cw : y*cw+x1/2]
			for x, v := range row {
				row[x] = byte(burnCNeut + (int(v)-burnCNeut)/3)
			}
		}
	}
	// Glyphs.
	for i := range b.lines {
		l := &b.lines[i]
		for gy := 0; gy < l.h; gy++ {
			py := y0 + (burnPad+i*lh+gy)*s
			for gx := 0; gx < l.w; gx++ {
				if !l.ink[gy*l.w+gx] {
					continue
				}
				px := (burnPad + gx) * s
				for dy := 0; dy < s && py+dy < h; dy++ {
					for dx := 0; dx < s && px+dx < x1; dx++ {
						f.Y[(py+dy)*w+px+dx] = burnYText
					}
				}
			}
		}
	}
}
