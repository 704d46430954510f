package web

import (
	"image"
	"image/color"
	"image/draw"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
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
