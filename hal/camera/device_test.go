//go:build linux && cgo

package camera

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/blackjack/webcam"
)

// These tests need a real V4L2 device and run only when
// EDGEREC_TEST_V4L2=/dev/videoN names one. scripts/qemu-vivid.sh runs them
// (cross-built) against the kernel's vivid driver inside qemu, with
// QEMU_VIVID_TESTBIN.

func testDevice(t *testing.T) string {
	p := os.Getenv("EDGEREC_TEST_V4L2")
	if p == "" {
		t.Skip("set EDGEREC_TEST_V4L2=/dev/videoN to test a real device")
	}
	return p
}

// TestDeviceListAndColours: List finds the device with its formats, and
// every supported pixel format it offers converts to the same picture:
// vivid's 75% colour bars with the BT.601 values of each bar (D2).
func TestDeviceListAndColours(t *testing.T) {
	path := testDevice(t)
	ctx := context.Background()
	devs, err := List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dev *Device
	for i := range devs {
		t.Logf("%s %q %q: %d formats, err %v", devs[i].Path, devs[i].Label, devs[i].Bus, len(devs[i].Formats), devs[i].Err)
		if devs[i].Path == path {
			dev = &devs[i]
		}
	}
	if dev == nil || len(dev.Formats) == 0 {
		t.Fatalf("List has no %s with formats: %+v", path, devs)
	}
	offered := map[PixelFormat]bool{}
	for _, f := range dev.Formats {
		offered[f.PixelFormat] = true
	}
	t.Logf("formats: %s", describeFormats(dev.Formats))
	// 75% colour bars, limited range BT.601: white, yellow, cyan, green,
	// magenta, red, blue, black.
	wantY := []int{180, 162, 131, 112, 84, 65, 35, 16}
	tested := 0
	for _, pf := range PixelFormats() {
		if !offered[pf] {
			continue
		}
		tested++
		c, err := Open(ctx, path, Format{PixelFormat: pf, Width: 640, Height: 360}, Options{})
		if err != nil {
			t.Fatalf("%s: %v", pf, err)
		}
		var img *image420
		for i := 0; i < 3; i++ { // let the stream settle
			y, at, err := c.Read(ctx)
			if err != nil {
				c.Close()
				t.Fatalf("%s: read %d: %v", pf, i, err)
			}
			if time.Since(at) > 10*time.Second || at.After(time.Now()) {
				t.Errorf("%s: capture time %v", pf, at)
			}
			img = &image420{y.Y, y.Cb, y.Cr, y.YStride, y.CStride}
		}
		w, h := c.Size()
		t.Logf("%s: opened %s, pictures %dx%d", pf, c.Format(), w, h)
		if c.Format().PixelFormat != pf {
			t.Errorf("%s: opened as %s", pf, c.Format())
		}
		row := h * 3 / 4 // below vivid's text overlay
		var got []int
		for bar := range wantY {
			got = append(got, int(img.y[row*img.ys+w*bar/8+w/16]))
		}
		t.Logf("%s: bar luma %v", pf, got)
		for bar, want := range wantY {
			if got[bar] < want-6 || got[bar] > want+6 {
				t.Errorf("%s: bar %d luma %d, want %d", pf, bar, got[bar], want)
			}
		}
		// Yellow has low Cb (blue-difference), red has high Cr.
		cy := (row / 2) * img.cs
		if cb := img.cb[cy+(w*1/8+w/16)/2]; cb > 60 {
			t.Errorf("%s: yellow bar Cb %d, want low (chroma planes swapped?)", pf, cb)
		}
		if cr := img.cr[cy+(w*5/8+w/16)/2]; cr < 190 {
			t.Errorf("%s: red bar Cr %d, want high (chroma planes swapped?)", pf, cr)
		}
		if err := c.Close(); err != nil {
			t.Errorf("%s: close: %v", pf, err)
		}
	}
	if tested == 0 {
		t.Fatalf("%s offers none of %v", path, PixelFormats())
	}
}

type image420 struct {
	y, cb, cr []byte
	ys, cs    int
}

// TestDeviceBusy: a second Open of a streaming device is ErrBusy, not a
// crash or a shared stream.
func TestDeviceBusy(t *testing.T) {
	path := testDevice(t)
	ctx := context.Background()
	c, err := Open(ctx, path, Format{Width: 640, Height: 360}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	c2, err := Open(ctx, path, Format{Width: 640, Height: 360}, Options{})
	if err == nil {
		c2.Close()
		t.Fatal("second open of a streaming device succeeded")
	}
	if !errors.Is(err, ErrBusy) {
		t.Errorf("second open: %v, want ErrBusy", err)
	}
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatalf("first capture broken by the second open: %v", err)
	}
}

// TestDeviceDisconnect: vivid's "Disconnect" control simulates unplugging
// the camera; Read then fails promptly (no hang), and Close returns (D2, R10).
func TestDeviceDisconnect(t *testing.T) {
	path := testDevice(t)
	ctx := context.Background()
	c, err := Open(ctx, path, Format{Width: 640, Height: 360}, Options{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	cam, err := webcam.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// vivid's error-injection "Disconnect" button (a button control, so
	// webcam.GetControls does not list it): V4L2_CTRL_CLASS_VIVID | 0xf000
	// + 65, as v4l2-compliance defines it.
	const vividDisconnect = webcam.ControlID(0x00f00000 | 0xf000 + 65)
	if err := cam.SetControl(vividDisconnect, 1); err != nil {
		cam.Close()
		t.Skipf("vivid Disconnect control: %v", err)
	}
	cam.Close()
	start := time.Now()
	var rerr error
	for i := 0; i < 20 && rerr == nil; i++ {
		_, _, rerr = c.Read(ctx)
	}
	t.Logf("after disconnect: %v (%s)", rerr, time.Since(start).Round(time.Millisecond))
	if rerr == nil {
		t.Fatal("reads go on after the device vanished")
	}
	if !errors.Is(rerr, ErrCapture) && !errors.Is(rerr, ErrTimeout) {
		t.Errorf("vanished device: %v", rerr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to notice", d)
	}
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs after the device vanished")
	}
}
