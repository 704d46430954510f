package camera

import (
	"fmt"
	"image"

	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
)

// mdFormat maps a pixel format to pion/mediadevices' frame format.
func (p PixelFormat) mdFormat() (frame.Format, error) {
	switch p {
	case YUYV:
		return frame.FormatYUYV, nil
	case NV12:
		return frame.FormatNV12, nil
	case I420:
		return frame.FormatI420, nil
	case MJPEG:
		return frame.FormatMJPEG, nil
	}
	return "", fmt.Errorf("camera: unsupported pixel format %q", p)
}

// pixelFormatOf maps back; ok is false for formats this package does not
// convert (NV21, UYVY, Z16, …).
func pixelFormatOf(f frame.Format) (PixelFormat, bool) {
	for _, p := range PixelFormats() {
		if m, _ := p.mdFormat(); m == f {
			return p, true
		}
	}
	return "", false
}

// Convert converts one raw picture as a device delivers it (pf, width x
// height; a JPEG for MJPEG) into dst, a 4:2:0 image of width x height
// rounded down to even. It uses pion/mediadevices' frame decoders and I420
// converter, the same path a live capture takes. YUYV's 4:2:2 chroma is
// averaged over each pair of rows.
func Convert(pf PixelFormat, raw []byte, width, height int, dst *image.YCbCr) error {
	if err := checkDst(dst, width&^1, height&^1); err != nil {
		return err
	}
	r, err := decodeReader(pf, raw, width, height)
	if err != nil {
		return err
	}
	img, release, err := video.ToI420(r).Read()
	if err != nil {
		return fmt.Errorf("camera: %s %dx%d: %w", pf, width, height, err)
	}
	defer release()
	return copyI420(dst, img)
}

// decodeReader is a one-picture video.Reader decoding raw with
// mediadevices' decoder for pf (what its V4L2 driver does per picture).
func decodeReader(pf PixelFormat, raw []byte, width, height int) (video.Reader, error) {
	mf, err := pf.mdFormat()
	if err != nil {
		return nil, err
	}
	dec, err := frame.NewDecoder(mf)
	if err != nil {
		return nil, fmt.Errorf("camera: %s: %w", pf, err)
	}
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("camera: %s: bad size %dx%d", pf, width, height)
	}
	return video.ReaderFunc(func() (image.Image, func(), error) {
		img, release, err := dec.Decode(raw, width, height)
		if err != nil {
			return nil, func() {}, fmt.Errorf("camera: decode %s %dx%d: %w", pf, width, height, err)
		}
		return img, release, nil
	}), nil
}

// checkDst verifies dst is a 4:2:0 image of exactly w x h whose planes are
// large enough.
func checkDst(dst *image.YCbCr, w, h int) error {
	if dst == nil {
		return fmt.Errorf("camera: nil destination image")
	}
	if dst.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return fmt.Errorf("camera: destination is %s, want 4:2:0", dst.SubsampleRatio)
	}
	if dst.Rect.Dx() != w || dst.Rect.Dy() != h {
		return fmt.Errorf("camera: destination is %dx%d, want %dx%d", dst.Rect.Dx(), dst.Rect.Dy(), w, h)
	}
	if w <= 0 || h <= 0 {
		return fmt.Errorf("camera: empty picture size %dx%d", w, h)
	}
	cw, ch := w/2, h/2
	if dst.YStride < w || dst.CStride < cw ||
		len(dst.Y) < (h-1)*dst.YStride+w ||
		len(dst.Cb) < (ch-1)*dst.CStride+cw || len(dst.Cr) < (ch-1)*dst.CStride+cw {
		return fmt.Errorf("camera: destination planes too small for %dx%d", w, h)
	}
	return nil
}

// copyI420 copies the top-left part of src (a 4:2:0 YCbCr as mediadevices'
// I420 converter yields it, any strides) into dst (checked by checkDst).
func copyI420(dst *image.YCbCr, src image.Image) error {
	s, ok := src.(*image.YCbCr)
	if !ok || s.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return fmt.Errorf("camera: converter gave %T, want a 4:2:0 image", src)
	}
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	if s.Rect.Dx() < w || s.Rect.Dy() < h {
		return fmt.Errorf("camera: picture is %dx%d, want %dx%d", s.Rect.Dx(), s.Rect.Dy(), w, h)
	}
	x0, y0 := s.Rect.Min.X, s.Rect.Min.Y
	for y := 0; y < h; y++ {
		so := s.YOffset(x0, y0+y)
		if so < 0 || so+w > len(s.Y) {
			return fmt.Errorf("camera: luma plane too short for %dx%d", w, h)
		}
		copy(dst.Y[y*dst.YStride:y*dst.YStride+w], s.Y[so:so+w])
	}
	cw, ch := w/2, h/2
	for y := 0; y < ch; y++ {
		so := s.COffset(x0, y0+2*y)
		if so < 0 || so+cw > len(s.Cb) || so+cw > len(s.Cr) {
			return fmt.Errorf("camera: chroma planes too short for %dx%d", w, h)
		}
		do := y * dst.CStride
		copy(dst.Cb[do:do+cw], s.Cb[so:so+cw])
		copy(dst.Cr[do:do+cw], s.Cr[so:so+cw])
	}
	return nil
}
