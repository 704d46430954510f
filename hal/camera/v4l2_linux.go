//go:build linux && cgo

package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/pion/mediadevices/pkg/driver"
	mdcamera "github.com/pion/mediadevices/pkg/driver/camera"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// v4l2Driver is what this package uses of a mediadevices camera driver.
type v4l2Driver interface {
	driver.Driver
	driver.VideoRecorder
}

// scan rescans the V4L2 devices (mediadevices registers them with its
// driver manager) and returns the camera drivers by device name (videoN).
// Rescanning gives fresh driver objects, so one held by an open Capture is
// never shared with a later List or Open.
func scan() map[string]v4l2Driver {
	mdcamera.Initialize()
	out := map[string]v4l2Driver{}
	for _, d := range driver.GetManager().Query(driver.FilterAnd(driver.FilterVideoRecorder(), driver.FilterDeviceType(driver.Camera))) {
		vd, ok := d.(v4l2Driver)
		if !ok {
			continue
		}
		// Label is "<name it was found under>;<videoN>".
		label := vd.Info().Label
		node := label[strings.LastIndex(label, mdcamera.LabelSeparator)+1:]
		out[node] = vd
	}
	return out
}

// cardInfo splits the driver's Name ("<card>;<bus>").
func cardInfo(d v4l2Driver) (card, bus string) {
	card, bus, _ = strings.Cut(d.Info().Name, mdcamera.LabelSeparator)
	return card, bus
}

// List returns the V4L2 capture devices with the formats they offer (only
// the pixel formats this package converts), sorted by path. A device that
// is in use shows with Err set and no formats.
func List(ctx context.Context) ([]Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Device
	for node, d := range scan() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		card, bus := cardInfo(d)
		dev := Device{Path: "/dev/" + node, Label: card, Bus: bus}
		if err := d.Open(); err != nil {
			if !isBusy(err) {
				continue // not a capture node (UVC metadata nodes, codecs)
			}
			dev.Err = fmt.Errorf("%w: %s: %w", ErrBusy, dev.Path, err)
		} else {
			dev.Formats = formatsOf(d.Properties())
			_ = d.Close()
		}
		out = append(out, dev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Open opens the capture device at path (/dev/videoN or a /dev/v4l/by-id
// or by-path link) in the format closest to want (see Best) and starts
// streaming.
func Open(ctx context.Context, path string, want Format, o Options) (*Capture, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrNoDevice, path)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrNoDevice, path, err)
	}
	if st, err := os.Stat(target); err != nil || st.Mode()&fs.ModeCharDevice == 0 {
		return nil, fmt.Errorf("%w: %s is not a character device", ErrNoDevice, path)
	}
	d, ok := scan()[filepath.Base(target)]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a V4L2 device", ErrNoDevice, path)
	}
	if err := d.Open(); err != nil {
		if isBusy(err) {
			return nil, fmt.Errorf("%w: %s: %w", ErrBusy, path, err)
		}
		return nil, fmt.Errorf("%w: %s: open: %w", ErrNoDevice, path, err)
	}
	f, why := best(formatsOf(d.Properties()), want)
	if why != "" {
		_ = d.Close()
		return nil, fmt.Errorf("%w: %s: %s", ErrNoFormat, path, why)
	}
	if err := ctx.Err(); err != nil {
		_ = d.Close()
		return nil, err
	}
	r, err := record(d, f, f.FPS)
	if err != nil && f.FPS > 0 {
		// Some devices list rates they refuse to set; stream at the
		// device's own rate rather than not at all.
		if err2 := d.Open(); err2 == nil {
			r, err = record(d, f, 0)
		}
	}
	if err != nil {
		_ = d.Close()
		if isBusy(err) {
			return nil, fmt.Errorf("%w: %s: %w", ErrBusy, path, err)
		}
		return nil, fmt.Errorf("%w: %s: start %s: %w", ErrCapture, path, f, err)
	}
	return newCapture(path, f, &driverSource{r: video.ToI420(r), d: d}, o), nil
}

// record starts streaming f (VideoRecord closes d when it fails).
func record(d v4l2Driver, f Format, fps float64) (video.Reader, error) {
	mf, err := f.PixelFormat.mdFormat()
	if err != nil {
		return nil, err
	}
	return d.VideoRecord(prop.Media{Video: prop.Video{
		Width:       f.Width,
		Height:      f.Height,
		FrameFormat: mf,
		FrameRate:   float32(fps),
	}})
}

// formatsOf turns mediadevices' properties into formats, dropping pixel
// formats this package does not convert and duplicates.
func formatsOf(ps []prop.Media) []Format {
	seen := map[Format]bool{}
	var out []Format
	for _, p := range ps {
		pf, ok := pixelFormatOf(p.FrameFormat)
		if !ok {
			continue
		}
		f := Format{PixelFormat: pf, Width: p.Width, Height: p.Height, FPS: float64(p.FrameRate)}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

func isBusy(err error) bool {
	// The driver wrapper refuses a second open of the same driver object
	// with a plain error; the kernel says EBUSY.
	return errors.Is(err, syscall.EBUSY) || strings.Contains(err.Error(), "already opened") || strings.Contains(err.Error(), "already running")
}

// driverSource adapts a running mediadevices driver to frameSource.
type driverSource struct {
	r video.Reader
	d v4l2Driver
}

func (s *driverSource) Read() (image.Image, func(), error) { return s.r.Read() }

// Close stops streaming and closes the device. mediadevices' driver waits
// for an in-flight read (bounded by its own 5 s poll timeout).
func (s *driverSource) Close() error { return s.d.Close() }
