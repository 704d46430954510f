package cameras

import (
	"context"
	"fmt"
	"image"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/live"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/source"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/hal/camera"
)

// The manager is the LAN page's cameras and the live view's source.
var (
	_ web.Cameras = (*Manager)(nil)
	_ live.Source = (*Manager)(nil)
)

// List returns every configured camera (web.Cameras).
func (m *Manager) List(ctx context.Context) ([]config.Camera, error) { return m.Cameras(), nil }

// Get returns one configured camera (web.Cameras).
func (m *Manager) Get(ctx context.Context, id string) (config.Camera, error) { return m.Camera(id) }

// Probe asks a source what it streams, bounded in time (web.Cameras).
func (m *Manager) Probe(ctx context.Context, url string) (media.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 12*time.Second)
	defer cancel()
	return source.Probe(ctx, url, source.Options{Timeout: 8 * time.Second})
}

// Devices lists the local V4L2 cameras, marking those a camera uses
// (web.Cameras). No V4L2 on this machine is an empty list, not an error.
func (m *Manager) Devices(ctx context.Context) ([]web.Device, error) {
	devs, err := camera.List(ctx)
	if err != nil {
		return nil, nil
	}
	used := map[string]bool{}
	for _, c := range m.Cameras() {
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

// Hub gives the masked coded stream of a running camera.
func (m *Manager) Hub(id string) (*pipeline.Hub, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rc, ok := m.running[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q is not recording", ErrUnknownCamera, id)
	}
	return rc.cam.Hub(), nil
}

// Subscribe feeds the live view from a running camera's hub: one reader
// per camera, shared by all viewers (edge/live fans out; live.Source).
// A camera with a sub stream is viewed through it (issue 18).
func (m *Manager) Subscribe(id string) (live.Feed, error) {
	m.mu.Lock()
	rc, ok := m.running[id]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", live.ErrUnknownCamera, id)
	}
	return rc.view().Hub().Subscribe(30), nil
}

// Snapshot is the last masked picture of a running camera (web.Cameras).
func (m *Manager) Snapshot(ctx context.Context, id string) (image.Image, time.Time, error) {
	m.mu.Lock()
	rc, ok := m.running[id]
	m.mu.Unlock()
	if !ok {
		return nil, time.Time{}, fmt.Errorf("%w: %q", web.ErrUnknownCamera, id)
	}
	if rc.sub != nil { // the sub stream's picture when it has one (issue 18)
		if img, at, err := rc.sub.Snapshot(ctx); err == nil {
			return img, at, nil
		}
	}
	return rc.cam.Snapshot(ctx)
}
