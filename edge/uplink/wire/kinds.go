package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// Kind is one of the four message types; it picks the topic, the content
// type and the size bound.
type Kind uint8

// The closed set of message kinds.
const (
	KindStatus Kind = 1
	KindBeacon Kind = 2
	KindEvent  Kind = 3
	KindAudit  Kind = 4
)

// Kinds lists every kind.
var Kinds = []Kind{KindStatus, KindBeacon, KindEvent, KindAudit}

// Size bounds of one payload per kind (bytes). A beacon is capped at
// MaxBeaconCameras cameras and MaxBeaconAlerts alerts so it always fits.
const (
	MaxStatusBytes   = 256
	MaxBeaconBytes   = 4096
	MaxEventBytes    = 6144
	MaxAuditBytes    = 2048
	MaxBeaconCameras = 40
	MaxBeaconAlerts  = 16
	MaxDetailBytes   = 4096
	MaxAuditTargets  = 16
	MaxAuditCameras  = 32
)

// Errors.
var (
	ErrKind     = errors.New("wire: unknown message kind")
	ErrVersion  = errors.New("wire: unsupported schema version")
	ErrInvalid  = errors.New("wire: invalid message")
	ErrTooLarge = errors.New("wire: payload too large")
	ErrNotMeta  = errors.New("wire: payload is not metadata")
)

// Topic returns the last topic level for the kind ("status", "beacon",
// "event", "audit").
func (k Kind) Topic() string {
	switch k {
	case KindStatus:
		return "status"
	case KindBeacon:
		return "beacon"
	case KindEvent:
		return "event"
	case KindAudit:
		return "audit"
	}
	return ""
}

// String is Topic, or "kind(N)" for an unknown kind.
func (k Kind) String() string {
	if t := k.Topic(); t != "" {
		return t
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ContentType is the MQTT v5 content type property of the kind's messages.
func (k Kind) ContentType() string {
	return fmt.Sprintf("application/vnd.edgerec.%s+msgpack; v=%d", k.Topic(), Version)
}

// MaxBytes is the size bound of one payload of the kind.
func (k Kind) MaxBytes() int {
	switch k {
	case KindStatus:
		return MaxStatusBytes
	case KindBeacon:
		return MaxBeaconBytes
	case KindEvent:
		return MaxEventBytes
	case KindAudit:
		return MaxAuditBytes
	}
	return 0
}

// Valid reports whether k is one of the four kinds.
func (k Kind) Valid() bool { return k.Topic() != "" }

// KindOfTopic maps a last topic level back to its kind.
func KindOfTopic(level string) (Kind, bool) {
	for _, k := range Kinds {
		if k.Topic() == level {
			return k, true
		}
	}
	return 0, false
}

// Event kinds: the closed set (R24). Anything else is refused.
const (
	EvCameraLost          = "camera.lost"
	EvCameraRestored      = "camera.restored"
	EvImageHealth         = "image.health"
	EvDiskError           = "disk.error"
	EvTamper              = "tamper"
	EvLoginBurst          = "login.burst"
	EvRetentionBelowFloor = "retention.below_floor"
	EvRetentionRestored   = "retention.restored"
	EvWipeCertificate     = "wipe.certificate"
	EvOutboxOverflow      = "outbox.overflow"
	EvAlertRaised         = "alert.raised"
	EvAlertResolved       = "alert.resolved"
	EvAccountSecurity     = "account.security"
	EvCameraDropping      = "camera.dropping"
	EvAuditWithheld       = "audit.withheld"
	EvKeysUnavailable     = "keys.unavailable"
	EvMaintenanceVisit    = "maintenance.visit"
)

// ActionWithheld is the action of an audit placeholder: a record the device
// could not encode, sent with its seq, hash and prev only (chain kept).
const ActionWithheld = "audit.withheld"

// EventKinds lists the closed set of event kinds.
var EventKinds = []string{
	EvCameraLost, EvCameraRestored, EvImageHealth, EvDiskError, EvTamper,
	EvLoginBurst, EvRetentionBelowFloor, EvRetentionRestored,
	EvWipeCertificate, EvOutboxOverflow, EvAlertRaised, EvAlertResolved,
	EvAccountSecurity, EvCameraDropping, EvAuditWithheld, EvKeysUnavailable,
	EvMaintenanceVisit,
}

// KnownEventKind reports whether kind is in EventKinds.
func KnownEventKind(kind string) bool {
	for _, k := range EventKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Camera states on the wire (BeaconCamera.State).
const (
	CamUnknown   uint8 = 0
	CamStarting  uint8 = 1
	CamRecording uint8 = 2
	CamDegraded  uint8 = 3
	CamLost      uint8 = 4
	CamRefused   uint8 = 5
	CamStopped   uint8 = 6
)

// CamStateName names a wire camera state.
func CamStateName(s uint8) string {
	switch s {
	case CamStarting:
		return "starting"
	case CamRecording:
		return "recording"
	case CamDegraded:
		return "degraded"
	case CamLost:
		return "lost"
	case CamRefused:
		return "refused"
	case CamStopped:
		return "stopped"
	}
	return "unknown"
}

// Clock states (Beacon.Clock, Event.Clock).
const (
	ClockUnknown  uint8 = 0
	ClockUnsynced uint8 = 1
	ClockSynced   uint8 = 2
)

// Severities (same numbers as edge/health).
const (
	SevInfo     uint8 = 1
	SevWarning  uint8 = 2
	SevCritical uint8 = 3
)

var (
	deviceRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	bootRE   = regexp.MustCompile(`^[0-9a-f]{16}$`)
	camRE    = regexp.MustCompile(`^[0-9a-f]{16}$`)
	codeRE   = regexp.MustCompile(`^[a-z0-9._-]{0,48}$`)
	actionRE = regexp.MustCompile(`^[a-z0-9._-]{1,48}$`)
	idRE     = regexp.MustCompile(`^[A-Za-z0-9._:@-]{0,64}$`)
	hashRE   = regexp.MustCompile(`^([0-9a-f]{64})?$`)
	fwRE     = regexp.MustCompile(`^[A-Za-z0-9._:@+~-]{0,64}$`)
	kpRE     = regexp.MustCompile(`^[a-z0-9-]{0,16}$`)
)

// ValidFirmware reports whether v can be a firmware version on the wire
// (e.g. "1.4.2", "v1.4.2-3-gabc123+dirty").
func ValidFirmware(v string) bool { return fwRE.MatchString(v) }

// ValidDevice reports whether id can be a device id (and an MQTT topic level).
func ValidDevice(id string) bool { return deviceRE.MatchString(id) }

// ValidCode reports whether c can be an alert or event code on the wire.
func ValidCode(c string) bool { return codeRE.MatchString(c) }

// ValidKeyProvider reports whether p can be a beacon's key provider ("file",
// "tpm2", "rpi-otp"; "" = not reported).
func ValidKeyProvider(p string) bool { return kpRE.MatchString(p) }

// ValidID reports whether s can be an actor, target or grant id on the wire.
func ValidID(s string) bool { return idRE.MatchString(s) }

// ValidAction reports whether s can be an audit action on the wire.
func ValidAction(s string) bool { return actionRE.MatchString(s) }

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func checkHeader(v uint16, dev, boot string) error {
	if v != Version {
		return fmt.Errorf("%w: v=%d", ErrVersion, v)
	}
	if !deviceRE.MatchString(dev) {
		return invalid("device %q", dev)
	}
	if !bootRE.MatchString(boot) {
		return invalid("boot id %q", boot)
	}
	return nil
}

func checkSev(s uint8) error {
	if s < SevInfo || s > SevCritical {
		return invalid("severity %d", s)
	}
	return nil
}

// Validate checks a Status.
func (s *Status) Validate() error {
	if err := checkHeader(s.V, s.Device, s.Boot); err != nil {
		return err
	}
	if s.State != StateOnline && s.State != StateOffline {
		return invalid("status state %q", s.State)
	}
	if !fwRE.MatchString(s.Firmware) {
		return invalid("firmware %q", s.Firmware)
	}
	return nil
}

// Validate checks a Beacon.
func (b *Beacon) Validate() error {
	if err := checkHeader(b.V, b.Device, b.Boot); err != nil {
		return err
	}
	if b.Clock > ClockSynced {
		return invalid("clock %d", b.Clock)
	}
	if !fwRE.MatchString(b.Firmware) {
		return invalid("firmware %q", b.Firmware)
	}
	if len(b.Cameras) > MaxBeaconCameras || len(b.Alerts) > MaxBeaconAlerts {
		return invalid("%d cameras, %d alerts", len(b.Cameras), len(b.Alerts))
	}
	for _, c := range b.Cameras {
		if !camRE.MatchString(c.ID) {
			return invalid("camera id %q", c.ID)
		}
		if c.State > CamStopped {
			return invalid("camera state %d", c.State)
		}
	}
	for _, a := range b.Alerts {
		if err := checkSev(a.Sev); err != nil {
			return err
		}
		if !codeRE.MatchString(a.Code) || a.Code == "" {
			return invalid("alert code %q", a.Code)
		}
		if a.Camera != "" && !camRE.MatchString(a.Camera) {
			return invalid("alert camera %q", a.Camera)
		}
	}
	if !hashRE.MatchString(b.AuditHash) {
		return invalid("audit hash %q", b.AuditHash)
	}
	if !kpRE.MatchString(b.KeyProvider) {
		return invalid("key provider %q", b.KeyProvider)
	}
	if !hashRE.MatchString(b.DeviceKey) {
		return invalid("device key %q", b.DeviceKey)
	}
	return nil
}

// Validate checks an Event.
func (e *Event) Validate() error {
	if err := checkHeader(e.V, e.Device, e.Boot); err != nil {
		return err
	}
	if !KnownEventKind(e.Kind) {
		return invalid("event kind %q", e.Kind)
	}
	if err := checkSev(e.Sev); err != nil {
		return err
	}
	if e.Clock > ClockSynced {
		return invalid("clock %d", e.Clock)
	}
	if e.Camera != "" && !camRE.MatchString(e.Camera) {
		return invalid("event camera %q", e.Camera)
	}
	if !codeRE.MatchString(e.Code) {
		return invalid("event code %q", e.Code)
	}
	if (e.Lost != nil) != (e.Kind == EvOutboxOverflow) {
		return invalid("lost is set exactly for %s", EvOutboxOverflow)
	}
	if e.Detail != "" {
		if e.Kind != EvWipeCertificate {
			return invalid("detail is only for %s", EvWipeCertificate)
		}
		if len(e.Detail) > MaxDetailBytes || !json.Valid([]byte(e.Detail)) {
			return invalid("detail is not a JSON document of at most %d bytes", MaxDetailBytes)
		}
	}
	return nil
}

// Validate checks an Audit record.
func (a *Audit) Validate() error {
	if err := checkHeader(a.V, a.Device, a.Boot); err != nil {
		return err
	}
	if !actionRE.MatchString(a.Action) {
		return invalid("audit action %q", a.Action)
	}
	if !idRE.MatchString(a.Actor) || !idRE.MatchString(a.Grant) {
		return invalid("audit actor %q or grant %q", a.Actor, a.Grant)
	}
	if len(a.Targets) > MaxAuditTargets || len(a.Cameras) > MaxAuditCameras {
		return invalid("%d targets, %d cameras", len(a.Targets), len(a.Cameras))
	}
	for _, t := range a.Targets {
		if !idRE.MatchString(t) || t == "" {
			return invalid("audit target %q", t)
		}
	}
	for _, c := range a.Cameras {
		if !camRE.MatchString(c) {
			return invalid("audit camera %q", c)
		}
	}
	if !hashRE.MatchString(a.Hash) || !hashRE.MatchString(a.Prev) {
		return invalid("audit hashes")
	}
	return nil
}
