package camera

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

func newI420(w, h int) *image.YCbCr {
	return image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
}

func wantPlanes(t *testing.T, name string, got *image.YCbCr, y, u, v []byte) {
	t.Helper()
	if !bytes.Equal(got.Y, y) {
		t.Errorf("%s: Y = %v, want %v", name, got.Y, y)
	}
	if !bytes.Equal(got.Cb, u) {
		t.Errorf("%s: U = %v, want %v", name, got.Cb, u)
	}
	if !bytes.Equal(got.Cr, v) {
		t.Errorf("%s: V = %v, want %v", name, got.Cr, v)
	}
}

// TestConvertYUYV: packed 4:2:2 (Y0 U Y1 V) becomes I420; chroma of the two
// rows of each pair is averaged (D2: local V4L2 cameras deliver YUYV).
func TestConvertYUYV(t *testing.T) {
	raw := []byte{
		10, 100, 20, 200, 30, 110, 40, 210, // row 0: Y 10 20 30 40, U 100 110, V 200 210
		50, 120, 60, 220, 70, 130, 80, 230, // row 1: Y 50 60 70 80, U 120 130, V 220 230
	}
	dst := newI420(4, 2)
	if err := Convert(YUYV, raw, 4, 2, dst); err != nil {
		t.Fatal(err)
	}
	wantPlanes(t, "yuyv", dst, []byte{10, 20, 30, 40, 50, 60, 70, 80}, []byte{110, 120}, []byte{210, 220})
}

// TestConvertNV12: the interleaved UV plane is split (D2).
func TestConvertNV12(t *testing.T) {
	raw := []byte{
		1, 2, 3, 4,
		5, 6, 7, 8,
		9, 10, 11, 12,
		13, 14, 15, 16,
		100, 200, 101, 201, // U V U V, chroma row 0
		102, 202, 103, 203, // chroma row 1
	}
	dst := newI420(4, 4)
	if err := Convert(NV12, raw, 4, 4, dst); err != nil {
		t.Fatal(err)
	}
	y := make([]byte, 16)
	for i := range y {
		y[i] = byte(i + 1)
	}
	wantPlanes(t, "nv12", dst, y, []byte{100, 101, 102, 103}, []byte{200, 201, 202, 203})
}

// TestConvertI420: planar 4:2:0 passes through unchanged.
func TestConvertI420(t *testing.T) {
	raw := []byte{
		1, 2, 3, 4, 5, 6, 7, 8, // Y 4x2
		50, 60, // U 2x1
		70, 80, // V 2x1
	}
	dst := newI420(4, 2)
	if err := Convert(I420, raw, 4, 2, dst); err != nil {
		t.Fatal(err)
	}
	wantPlanes(t, "i420", dst, raw[:8], []byte{50, 60}, []byte{70, 80})
}

// TestConvertMJPEG: a JPEG (what USB webcams send at 720p and above) is
// decoded to I420. JPEG is lossy: values are checked within a tolerance.
func TestConvertMJPEG(t *testing.T) {
	const w, h = 32, 16
	src := newI420(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := byte(60)
			if x >= w/2 {
				v = 190 // left half dark, right half bright: 8x8-block aligned
			}
			src.Y[y*src.YStride+x] = v
		}
	}
	for i := range src.Cb {
		src.Cb[i], src.Cr[i] = 90, 160
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	dst := newI420(w, h)
	if err := Convert(MJPEG, buf.Bytes(), w, h, dst); err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want byte) {
		t.Helper()
		if d := int(got) - int(want); d < -4 || d > 4 {
			t.Fatalf("mjpeg %s = %d, want %d±4", what, got, want)
		}
	}
	for y := 0; y < h; y++ {
		near("Y left", dst.Y[y*dst.YStride+2], 60)
		near("Y right", dst.Y[y*dst.YStride+w-3], 190)
	}
	for i := range dst.Cb {
		near("U", dst.Cb[i], 90)
		near("V", dst.Cr[i], 160)
	}
	// A picture of another size than negotiated is refused.
	if err := Convert(MJPEG, buf.Bytes(), 64, 32, newI420(64, 32)); err == nil {
		t.Fatal("a 32x16 JPEG accepted as 64x32")
	}
}

// TestConvertErrors: short buffers, garbage JPEG, wrong destination.
func TestConvertErrors(t *testing.T) {
	for name, fn := range map[string]func() error{
		"short yuyv":   func() error { return Convert(YUYV, make([]byte, 10), 4, 2, newI420(4, 2)) },
		"short nv12":   func() error { return Convert(NV12, make([]byte, 10), 4, 4, newI420(4, 4)) },
		"short i420":   func() error { return Convert(I420, make([]byte, 10), 4, 4, newI420(4, 4)) },
		"garbage jpeg": func() error { return Convert(MJPEG, []byte("not a jpeg"), 4, 4, newI420(4, 4)) },
		"bad format":   func() error { return Convert("RGB3", make([]byte, 48), 4, 4, newI420(4, 4)) },
		"dst size":     func() error { return Convert(I420, make([]byte, 24), 4, 4, newI420(2, 2)) },
		"dst 4:4:4": func() error {
			return Convert(I420, make([]byte, 24), 4, 4, image.NewYCbCr(image.Rect(0, 0, 4, 4), image.YCbCrSubsampleRatio444))
		},
		"nil dst": func() error { return Convert(I420, make([]byte, 24), 4, 4, nil) },
	} {
		if err := fn(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestConvertStrided: the destination may have strides wider than the
// picture (a view into a larger buffer); only the picture is written.
func TestConvertStrided(t *testing.T) {
	raw := []byte{1, 2, 3, 4, 5, 6, 7, 8, 50, 60, 70, 80}
	dst := &image.YCbCr{
		Y: make([]byte, 2*8), Cb: make([]byte, 4), Cr: make([]byte, 4),
		YStride: 8, CStride: 4, SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect: image.Rect(0, 0, 4, 2),
	}
	for i := range dst.Y {
		dst.Y[i] = 0xee
	}
	if err := Convert(I420, raw, 4, 2, dst); err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 2, 3, 4, 0xee, 0xee, 0xee, 0xee, 5, 6, 7, 8, 0xee, 0xee, 0xee, 0xee}
	if !bytes.Equal(dst.Y, want) {
		t.Fatalf("Y = %v, want %v", dst.Y, want)
	}
	if dst.Cb[0] != 50 || dst.Cb[1] != 60 || dst.Cr[0] != 70 || dst.Cr[1] != 80 {
		t.Fatalf("chroma %v %v", dst.Cb, dst.Cr)
	}
}

func TestParsePixelFormat(t *testing.T) {
	for in, want := range map[string]PixelFormat{"yuyv": YUYV, "NV12": NV12, "i420": I420, "Mjpeg": MJPEG} {
		if got, err := ParsePixelFormat(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParsePixelFormat("rgb24"); err == nil {
		t.Error("rgb24 accepted")
	}
}
