package main

import (
	"context"
	"fmt"
	"image"
	"math"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/live"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/hal/camera"
)

// webCameras adapts the camera manager to the LAN page (web.Cameras).
type webCameras struct{ m *cameraManager }

func (w webCameras) List(ctx context.Context) ([]config.Camera, error) { return w.m.Cameras(), nil }

func (w webCameras) Get(ctx context.Context, id string) (config.Camera, error) { return w.m.Camera(id) }

func (w webCameras) Add(ctx context.Context, c config.Camera) error {
	return w.m.AddCamera(ctx, "", c)
}

func (w webCameras) Update(ctx context.Context, c config.Camera) error {
	return w.m.UpdateCamera(ctx, "", c)
}

func (w webCameras) Remove(ctx context.Context, id string) error {
	return w.m.RemoveCamera(ctx, "", id)
}

func (w webCameras) SetMasks(ctx context.Context, id string, masks []mask.Mask) error {
	cm := make([]config.Mask, len(masks))
	for i, mk := range masks {
		poly := make([][]float64, len(mk.Polygon))
		for j, p := range mk.Polygon {
			if math.IsNaN(p.X) || math.IsNaN(p.Y) {
				return fmt.Errorf("%w: mask %q point %d", mask.ErrInvalid, mk.Name, j+1)
			}
			poly[j] = []float64{p.X, p.Y}
		}
		cm[i] = config.Mask{Name: mk.Name, Style: mk.Style, Polygon: poly}
	}
	return w.m.SetMasks(ctx, "", id, cm)
}

func (w webCameras) ApplyCoverage(ctx context.Context, grantID, actorID string) error {
	return w.m.ApplyCoverage(ctx, grantID, actorID)
}

func (w webCameras) Probe(ctx context.Context, url string) (media.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 12*time.Second)
	defer cancel()
	return source.Probe(ctx, url, source.Options{Timeout: 8 * time.Second})
}

func (w webCameras) Devices(ctx context.Context) ([]web.Device, error) {
	devs, err := camera.List(ctx)
	if err != nil {
		return nil, nil // no V4L2 on this machine: an empty list, not an error
	}
	used := map[string]bool{}
	for _, c := range w.m.Cameras() {
		if s := string(c.Source); strings.HasPrefix(s, "v4l2://") {
			used[strings.SplitN(strings.TrimPrefix(s, "v4l2://"), "?", 2)[0]] = true
		}
	}
	out := make([]web.Device, 0, len(devs))
	for _, d := range devs {
		out = append(out, web.Device{Path: d.Path, Name: d.Label, URL: "v4l2://" + d.Path, Busy: used[d.Path] || d.Err != nil})
	}
	return out, nil
}

func (w webCameras) Snapshot(ctx context.Context, id string) (image.Image, time.Time, error) {
	return w.m.Snapshot(ctx, id)
}

// liveSource feeds the live view from a running camera's hub: one reader
// per camera, shared by all viewers (edge/live fans out).
type liveSource struct{ m *cameraManager }

func (l liveSource) Subscribe(id string) (live.Feed, error) {
	hub, err := l.m.Hub(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", live.ErrUnknownCamera, id)
	}
	return hub.Subscribe(30), nil
}
