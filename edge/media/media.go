package media

import (
	"fmt"
	"image"
	"time"
)

// Frame is one raw picture in planar I420 (YUV 4:2:0), tightly packed:
// len(Y) = Width*Height, len(U) = len(V) = (Width/2)*(Height/2).
// Width and Height are even.
type Frame struct {
	Width, Height int
	Y, U, V       []byte
	// PTS is the presentation time relative to the start of the stream.
	PTS time.Duration
	// Wall is the wall-clock capture time.
	Wall time.Time
}

// NewFrame allocates a black-free (zeroed) I420 frame of the given size.
func NewFrame(width, height int) (*Frame, error) {
	if width <= 0 || height <= 0 || width%2 != 0 || height%2 != 0 {
		return nil, fmt.Errorf("media: frame size %dx%d: width and height must be positive and even", width, height)
	}
	cw, ch := width/2, height/2
	buf := make([]byte, width*height+2*cw*ch)
	return &Frame{
		Width:  width,
		Height: height,
		Y:      buf[:width*height],
		U:      buf[width*height : width*height+cw*ch],
		V:      buf[width*height+cw*ch:],
	}, nil
}

// Clone returns a deep copy of f.
func (f *Frame) Clone() *Frame {
	c, _ := NewFrame(f.Width, f.Height)
	copy(c.Y, f.Y)
	copy(c.U, f.U)
	copy(c.V, f.V)
	c.PTS, c.Wall = f.PTS, f.Wall
	return c
}

// YCbCr returns an image.YCbCr view sharing f's planes (no copy).
func (f *Frame) YCbCr() *image.YCbCr {
	return &image.YCbCr{
		Y:              f.Y,
		Cb:             f.U,
		Cr:             f.V,
		YStride:        f.Width,
		CStride:        f.Width / 2,
		SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect:           image.Rect(0, 0, f.Width, f.Height),
	}
}

// Codec names of coded video (issue 18).
const (
	CodecH264 = "h264"
	CodecH265 = "h265"
)

// AccessUnit is one coded picture in Annex-B byte stream form (start-code
// prefixed NAL units), H.264 unless Codec says "h265". A key access unit is
// an H.264 IDR picture, or an H.265 IRAP picture (IDR, CRA, BLA), and
// carries its parameter sets in band (SPS and PPS; for H.265 also the VPS),
// so a decoder can start there.
type AccessUnit struct {
	Data []byte
	PTS  time.Duration
	Wall time.Time
	Key  bool
	// Codec: "" or CodecH264 is H.264, CodecH265 is H.265 (HEVC).
	Codec string
}

// IsH265 reports whether the unit is H.265.
func (au AccessUnit) IsH265() bool { return au.Codec == CodecH265 }

// StreamInfo describes a coded stream.
type StreamInfo struct {
	Codec  string // CodecH264 or CodecH265
	Width  int
	Height int
	FPS    float64
}
