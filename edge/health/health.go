package health

import (
	"sort"
	"sync"
	"time"
)

// CameraState is the supervisor state of one camera.
type CameraState string

// Camera states (issue 4 adds degraded, lost and refused transitions).
const (
	StateStarting  CameraState = "starting"
	StateRecording CameraState = "recording"
	StateDegraded  CameraState = "degraded"
	StateLost      CameraState = "lost"
	StateRefused   CameraState = "refused"
	StateStopped   CameraState = "stopped"
)

// Camera is the health of one camera.
type Camera struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	State     CameraState `json:"state"`
	Reason    string      `json:"reason,omitempty"`
	Masked    bool        `json:"masked"`
	Width     int         `json:"width"`
	Height    int         `json:"height"`
	FPS       float64     `json:"fps"`
	Kbps      float64     `json:"kbps"`
	Frames    uint64      `json:"frames"`
	LastFrame time.Time   `json:"last_frame"`
	Encoder   string      `json:"encoder,omitempty"`
	// Gaps counts interruptions of the stream since start (reconnects,
	// dropped runs of frames).
	Gaps uint64 `json:"gaps"`
	// Dropped counts access units or pictures lost since start before they
	// were recorded (issue 14: the source fell behind, the decoder failed,
	// the recorder fell behind). Never silent: a camera losing more than
	// DropDegradeRatio of a second's frames is degraded.
	Dropped uint64 `json:"dropped"`
	// Image holds the image-health flags (R10); 0 = healthy or unknown.
	Image ImageFlags `json:"image_flags"`
	// Codec of what the camera sends: "h264" or "h265" (issue 18).
	Codec string `json:"codec,omitempty"`
	// ImageUnchecked, when set, says why image health (R10) and snapshots
	// are not available for this camera (an H.265 passthrough camera: the
	// gateway has no H.265 decoder), so Image = 0 is not read as healthy.
	ImageUnchecked string `json:"image_unchecked,omitempty"`
	// ScheduledOff: the camera runs (live view, image health) but is
	// outside its recording schedule, so nothing is recorded (issue 18).
	ScheduledOff bool `json:"scheduled_off,omitempty"`
}

// ImageFlags are image-health findings for one camera (R10).
type ImageFlags uint8

// Image-health flags. The bit values are stable (the uplink sends them).
const (
	ImageFrozen     ImageFlags = 1 << 0
	ImageBlack      ImageFlags = 1 << 1
	ImageObstructed ImageFlags = 1 << 2
)

// Storage is the health of the recording store.
type Storage struct {
	RingBytes     int64         `json:"ring_bytes"`
	UsedBytes     int64         `json:"used_bytes"`
	Segments      int           `json:"segments"`
	Oldest        time.Time     `json:"oldest"`
	Horizon       time.Duration `json:"horizon_ns"`
	HorizonFloor  time.Duration `json:"horizon_floor_ns"`
	Cipher        string        `json:"cipher"`
	LastWriteErr  string        `json:"last_write_error,omitempty"`
	ClosedSegment uint64        `json:"closed_segments"`
}

// Snapshot is the whole device health at one moment.
type Snapshot struct {
	Device   string    `json:"device"`
	Time     time.Time `json:"time"`
	Started  time.Time `json:"started"`
	Uptime   string    `json:"uptime"`
	Firmware string    `json:"firmware"`
	Cameras  []Camera  `json:"cameras"`
	Storage  Storage   `json:"storage"`
	// Warnings are the texts of Alerts, in the same order (kept for the
	// callers that only show text).
	Warnings []string `json:"warnings"`
	// Alerts is the one list of active warnings, sorted by code.
	Alerts []Alert `json:"alerts"`
	// KeyProvider is where the store's root key lives: "file", "tpm2" or
	// "rpi-otp" ("" until the daemon reported it). Issue 13.
	KeyProvider string `json:"key_provider"`
	// KeyProviderNote is one line about the provider for people.
	KeyProviderNote string `json:"key_provider_note,omitempty"`
	// KeyProviderWarning is what the provider does not protect against
	// ("" = nothing to say); it is also the standing alert AlertKeysOnDisk.
	KeyProviderWarning string `json:"key_provider_warning,omitempty"`
}

// Tracker collects health reports from the running parts. It is safe for
// concurrent use.
type Tracker struct {
	mu       sync.Mutex
	device   string
	firmware string
	started  time.Time
	now      func() time.Time
	cameras  map[string]Camera
	storage  Storage
	alerts   map[string]Alert
	keys     KeyProvider
}

// NewTracker returns a tracker for the named device. now may be nil (time.Now).
func NewTracker(device, firmware string, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{
		device:   device,
		firmware: firmware,
		started:  now(),
		now:      now,
		cameras:  make(map[string]Camera),
		alerts:   make(map[string]Alert),
	}
}

// SetCamera replaces the health of one camera.
func (t *Tracker) SetCamera(c Camera) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cameras[c.ID] = c
}

// UpdateCamera applies fn to the current health of camera id.
func (t *Tracker) UpdateCamera(id string, fn func(*Camera)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.cameras[id]
	c.ID = id
	fn(&c)
	t.cameras[id] = c
}

// SetStorage replaces the storage health.
func (t *Tracker) SetStorage(s Storage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.storage = s
}

// Warn raises (or replaces) the warning under key with SevWarning; Clear
// removes it. key is an alert code (see Alert).
func (t *Tracker) Warn(key, text string) { t.Raise(key, SevWarning, text) }

// Clear removes the warning under key.
func (t *Tracker) Clear(key string) { t.Resolve(key) }

// KeyProvider describes where the root key lives (issue 13). The composition
// root fills it from the store; health does not know the providers.
type KeyProvider struct {
	Name    string // "file", "tpm2", "rpi-otp"
	Note    string // one line for people
	Warning string // what it does not protect against; "" = nothing
}

// AlertKeysOnDisk is the standing alert of a root key provider that does
// not protect the keys against theft of the disk (the file provider).
const AlertKeysOnDisk = "keys.on_disk"

// SetKeyProvider records the root key provider. A provider with a Warning
// raises the standing SevWarning alert AlertKeysOnDisk with that text (the
// page, the LED and the beacon all show it); one without resolves it.
func (t *Tracker) SetKeyProvider(kp KeyProvider) {
	t.mu.Lock()
	t.keys = kp
	t.mu.Unlock()
	if kp.Warning != "" {
		t.Raise(AlertKeysOnDisk, SevWarning, kp.Warning)
	} else {
		t.Resolve(AlertKeysOnDisk)
	}
}

// Fresh reports whether every recording camera delivered a frame within
// maxAge (the hardware watchdog is fed only then).
func (t *Tracker) Fresh(maxAge time.Duration) bool {
	for _, c := range t.Snapshot().Cameras {
		if c.State == StateRecording && time.Since(c.LastFrame) > maxAge {
			return false
		}
	}
	return true
}

// Snapshot returns a consistent copy of the current health.
func (t *Tracker) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := Snapshot{
		Device:   t.device,
		Time:     now,
		Started:  t.started,
		Uptime:   now.Sub(t.started).Round(time.Second).String(),
		Firmware: t.firmware,
		Storage:  t.storage,

		KeyProvider: t.keys.Name, KeyProviderNote: t.keys.Note, KeyProviderWarning: t.keys.Warning,
	}
	for _, c := range t.cameras {
		s.Cameras = append(s.Cameras, c)
	}
	sort.Slice(s.Cameras, func(i, j int) bool { return s.Cameras[i].ID < s.Cameras[j].ID })
	s.Alerts = t.sortedAlerts()
	for _, a := range s.Alerts {
		s.Warnings = append(s.Warnings, a.Text)
	}
	return s
}

// RemoveCamera forgets a camera and resolves its alerts (the camera was
// removed from the device).
func (t *Tracker) RemoveCamera(id string) {
	t.mu.Lock()
	delete(t.cameras, id)
	var codes []string
	for code := range t.alerts {
		if _, cam := SplitCode(code); cam == id {
			codes = append(codes, code)
		}
	}
	t.mu.Unlock()
	for _, c := range codes {
		t.Resolve(c)
	}
}
