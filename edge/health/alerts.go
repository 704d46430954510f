package health

import (
	"sort"
	"strings"
	"time"
)

// Severity grades an alert. The zero value is not a valid severity; Raise
// treats it as SevWarning.
type Severity uint8

// Severities, least to most severe. The numbers are stable (the uplink sends
// them).
const (
	SevInfo     Severity = 1
	SevWarning  Severity = 2
	SevCritical Severity = 3
)

// String returns "info", "warning" or "critical".
func (s Severity) String() string {
	switch s {
	case SevInfo:
		return "info"
	case SevWarning:
		return "warning"
	case SevCritical:
		return "critical"
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler (JSON shows the name).
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Alert is one active warning: a stable machine code, a severity, a text for
// people on the LAN page, and when it was first raised.
//
// Code convention: "<code>" or "<code>:<local camera id>" (for example
// "camera.lost:cam1", "refused:cam2"). The text may name cameras and is for
// the LAN page only; the uplink sends the code (with the camera part replaced
// by its opaque id, R19), the severity and Since, never the text (D6).
type Alert struct {
	Code     string    `json:"code"`
	Severity Severity  `json:"severity"`
	Text     string    `json:"text"`
	Since    time.Time `json:"since"`
}

// SplitCode splits an alert code into its base code and the local camera id
// it concerns ("" when it concerns no camera).
func SplitCode(code string) (base, camera string) {
	base, camera, _ = strings.Cut(code, ":")
	return base, camera
}

// CameraCode returns the alert code for base concerning one camera.
func CameraCode(base, camera string) string { return base + ":" + camera }

// Raise raises (or updates) the alert under code. Raising an alert that is
// already active keeps its Since and replaces its severity and text.
func (t *Tracker) Raise(code string, sev Severity, text string) {
	if sev == 0 {
		sev = SevWarning
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.alerts[code]
	if !ok {
		a = Alert{Code: code, Since: t.now()}
	}
	a.Severity, a.Text = sev, text
	t.alerts[code] = a
}

// Resolve removes the alert under code (no-op when it is not active).
func (t *Tracker) Resolve(code string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.alerts, code)
}

// sortedAlerts returns the active alerts sorted by code. Callers hold t.mu.
func (t *Tracker) sortedAlerts() []Alert {
	out := make([]Alert, 0, len(t.alerts))
	for _, a := range t.alerts {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Worst returns the highest severity among the snapshot's alerts, or 0 when
// there are none (the status LED shows this).
func (s Snapshot) Worst() Severity {
	var w Severity
	for _, a := range s.Alerts {
		w = max(w, a.Severity)
	}
	return w
}
