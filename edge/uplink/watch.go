package uplink

import (
	"context"
	"fmt"
	"strings"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// watcher turns health changes into events (R24): a camera lost or
// restored, image-health flags changing, the retention horizon crossing the
// floor, storage write errors, and alerts raised or resolved.
type watcher struct {
	u       *Uplink
	cams    map[string]health.Camera
	alerts  map[string]health.Alert
	below   bool
	diskErr bool
}

func newWatcher(u *Uplink) *watcher { return &watcher{u: u} }

func belowFloor(s health.Storage) bool {
	return s.HorizonFloor > 0 && s.Horizon > 0 && s.Horizon < s.HorizonFloor
}

func (w *watcher) baseline(s health.Snapshot) {
	w.cams = map[string]health.Camera{}
	for _, c := range s.Cameras {
		w.cams[c.ID] = c
	}
	w.alerts = map[string]health.Alert{}
	for _, a := range s.Alerts {
		w.alerts[a.Code] = a
	}
	w.below = belowFloor(s.Storage)
	w.diskErr = s.Storage.LastWriteErr != ""
}

// dropping reports a camera degraded because it loses frames (issue 14;
// the pipeline's reason starts "dropping frames").
func dropping(c health.Camera) bool {
	return c.State == health.StateDegraded && strings.HasPrefix(c.Reason, "dropping frames")
}

func (w *watcher) emit(e Event) {
	if err := w.u.Event(context.Background(), e); err != nil {
		w.u.log.Warn("uplink: event not queued", "kind", e.Kind, "err", err)
	}
}

func (w *watcher) diff(s health.Snapshot) {
	seen := map[string]bool{}
	for _, c := range s.Cameras {
		seen[c.ID] = true
		old, known := w.cams[c.ID]
		w.cams[c.ID] = c
		wasLost := known && old.State == health.StateLost
		switch {
		case c.State == health.StateLost && !wasLost:
			w.emit(Event{Kind: wire.EvCameraLost, Camera: c.ID, Code: "lost"})
		case wasLost && c.State == health.StateRecording:
			w.emit(Event{Kind: wire.EvCameraRestored, Camera: c.ID})
		}
		if dropping(c) && !(known && dropping(old)) {
			w.emit(Event{Kind: wire.EvCameraDropping, Camera: c.ID, Code: "dropping", Count: c.Dropped, Severity: health.SevWarning})
		}
		if known && old.Image != c.Image {
			w.emit(Event{Kind: wire.EvImageHealth, Camera: c.ID, Code: imageCode(c.Image), Value: int64(c.Image),
				Severity: map[bool]health.Severity{true: health.SevInfo, false: health.SevWarning}[c.Image == 0]})
		}
	}
	for id := range w.cams {
		if !seen[id] {
			delete(w.cams, id)
		}
	}
	if b := belowFloor(s.Storage); b != w.below {
		w.below = b
		kind := wire.EvRetentionRestored
		if b {
			kind = wire.EvRetentionBelowFloor
		}
		w.emit(Event{Kind: kind, Value: int64(s.Storage.Horizon.Seconds()), Count: uint64(s.Storage.HorizonFloor.Seconds())})
	}
	if d := s.Storage.LastWriteErr != ""; d != w.diskErr {
		w.diskErr = d
		if d {
			w.emit(Event{Kind: wire.EvDiskError, Code: "write"})
		}
	}
	now := map[string]health.Alert{}
	for _, a := range s.Alerts {
		now[a.Code] = a
		if _, ok := w.alerts[a.Code]; !ok {
			wa := w.u.wireAlert(a)
			_, cam := health.SplitCode(a.Code)
			w.emit(Event{Kind: wire.EvAlertRaised, Severity: health.Severity(wa.Sev), Camera: cam, Code: wa.Code})
		}
	}
	for code, a := range w.alerts {
		if _, ok := now[code]; !ok {
			wa := w.u.wireAlert(a)
			_, cam := health.SplitCode(code)
			w.emit(Event{Kind: wire.EvAlertResolved, Camera: cam, Code: wa.Code})
		}
	}
	w.alerts = now
}

func imageCode(f health.ImageFlags) string {
	switch {
	case f == 0:
		return "ok"
	case f&health.ImageObstructed != 0:
		return "obstructed"
	case f&health.ImageBlack != 0:
		return "black"
	case f&health.ImageFrozen != 0:
		return "frozen"
	}
	return fmt.Sprintf("flags-%d", f)
}
