package uplink

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink/outbox"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// Event kinds (R24): the closed set, see wire.EventKinds and SCHEMA.md.
const (
	EventCameraLost          = wire.EvCameraLost
	EventCameraRestored      = wire.EvCameraRestored
	EventImageHealth         = wire.EvImageHealth
	EventDiskError           = wire.EvDiskError
	EventTamper              = wire.EvTamper
	EventLoginBurst          = wire.EvLoginBurst
	EventRetentionBelowFloor = wire.EvRetentionBelowFloor
	EventRetentionRestored   = wire.EvRetentionRestored
	EventWipeCertificate     = wire.EvWipeCertificate
	EventAlertRaised         = wire.EvAlertRaised
	EventAlertResolved       = wire.EvAlertResolved
	EventAccountSecurity     = wire.EvAccountSecurity
	EventAuditWithheld       = wire.EvAuditWithheld
	EventKeysUnavailable     = wire.EvKeysUnavailable
	EventMaintenanceVisit    = wire.EvMaintenanceVisit
)

// Event is one fault or emergency to report upstream.
type Event struct {
	Kind     string          // one of the Event* kinds
	Severity health.Severity // 0 = the kind's default
	Camera   string          // local camera id, or ""; sent as its opaque id (R19)
	Code     string          // short machine code ([a-z0-9._-], ≤ 48), e.g. "frozen"
	Count    uint64          // kind-specific count (failed logins in a burst, …)
	Value    int64           // kind-specific number (horizon seconds, …)
	Time     time.Time       // zero = now
	Detail   []byte          // wipe.certificate only: the signed certificate (ASCII JSON, ≤ 4 KiB)
}

// AuditRecord is one audit log record (R16) to forward, in chain order. It
// carries ids only: no camera names, no free text.
type AuditRecord struct {
	Seq     uint64
	Time    time.Time
	Actor   string   // user id; sent in clear only if device-generated (see ClearID)
	Action  string   // e.g. "login", "grant.approve", "export"
	Targets []string // ids of users, grants, exports; anything else is sent as a keyed hash (R19)
	Cameras []string // local camera ids; sent as opaque ids (R19)
	Grant   string   // grant id, or "" (hashed unless device-generated)
	OK      bool     // outcome
	Hash    [32]byte // this record's chain hash
	Prev    [32]byte // the previous record's chain hash
}

func defaultSeverity(kind string) health.Severity {
	switch kind {
	case wire.EvCameraLost, wire.EvDiskError, wire.EvTamper, wire.EvKeysUnavailable:
		return health.SevCritical
	case wire.EvImageHealth, wire.EvLoginBurst, wire.EvRetentionBelowFloor, wire.EvOutboxOverflow, wire.EvAlertRaised, wire.EvAccountSecurity, wire.EvAuditWithheld, wire.EvCameraDropping:
		return health.SevWarning
	}
	return health.SevInfo
}

func (u *Uplink) clock() uint8 { return u.deps.Board.ReadBoard().Clock }

func (u *Uplink) opaque(local string) string {
	if local == "" {
		return ""
	}
	return OpaqueID(u.cfg.IDKey, local)
}

// Event queues an event. It returns once the event is in the outbox on disk
// (nil), or held in memory because the disk failed (ErrNotDurable), or
// dropped (ErrDropped), or refused (ErrInvalid).
func (u *Uplink) Event(ctx context.Context, e Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if u.isClosed() {
		return ErrClosed
	}
	if e.Kind == wire.EvOutboxOverflow {
		return fmt.Errorf("%w: %s is raised by the outbox itself", ErrInvalid, e.Kind)
	}
	w, err := u.wireEvent(e)
	if err != nil {
		return err
	}
	return u.enqueue(wire.KindEvent, func(id uint64) (wire.Message, error) {
		w.ID = id
		return &w, nil
	})
}

func (u *Uplink) wireEvent(e Event) (wire.Event, error) {
	if e.Time.IsZero() {
		e.Time = u.now()
	}
	if e.Severity == 0 {
		e.Severity = defaultSeverity(e.Kind)
	}
	w := wire.Event{
		V: wire.Version, Device: u.cfg.DeviceID, Boot: u.boot, ID: 1,
		Time: e.Time.UnixMilli(), Clock: u.clock(), Kind: e.Kind, Sev: uint8(e.Severity),
		Camera: u.opaque(e.Camera), Code: e.Code, Count: e.Count, Value: e.Value,
	}
	if len(e.Detail) > 0 {
		var b bytes.Buffer
		if err := json.Compact(&b, e.Detail); err != nil {
			return wire.Event{}, fmt.Errorf("%w: detail is not JSON: %w", ErrInvalid, err)
		}
		w.Detail = b.String()
	}
	if _, err := wire.Marshal(&w); err != nil {
		return wire.Event{}, err
	}
	return w, nil
}

// Audit queues one audit record, like Event.
func (u *Uplink) Audit(ctx context.Context, a AuditRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if u.isClosed() {
		return ErrClosed
	}
	if a.Time.IsZero() {
		a.Time = u.now()
	}
	w := wire.Audit{
		V: wire.Version, Device: u.cfg.DeviceID, Boot: u.boot, ID: 1,
		Seq: a.Seq, Time: a.Time.UnixMilli(), Actor: u.wireID(a.Actor, true), Action: a.Action,
		Grant: u.wireID(a.Grant, false), OK: a.OK,
		Hash: hex.EncodeToString(a.Hash[:]), Prev: hex.EncodeToString(a.Prev[:]),
	}
	for _, t := range a.Targets {
		w.Targets = append(w.Targets, u.wireID(t, false))
	}
	for _, c := range a.Cameras {
		w.Cameras = append(w.Cameras, u.opaque(c))
	}
	if _, err := wire.Marshal(&w); err != nil {
		return err
	}
	return u.enqueue(wire.KindAudit, func(id uint64) (wire.Message, error) {
		w.ID = id
		return &w, nil
	})
}

func (u *Uplink) enqueue(k wire.Kind, msg func(id uint64) (wire.Message, error)) error {
	_, err := u.ob.Append(k, func(id uint64) ([]byte, error) {
		m, err := msg(id)
		if err != nil {
			return nil, err
		}
		return wire.Marshal(m)
	})
	if err != nil {
		if u.ob.WriteErr() != nil {
			u.raise(AlertOutbox, health.SevCritical, "uplink: cannot write the outbox ("+u.ob.WriteErr().Error()+"); messages are held in memory; recording is not affected")
		}
		return fmt.Errorf("uplink: queue %s: %w", k, err)
	}
	return nil
}

func (u *Uplink) statusPayload(state string) ([]byte, error) {
	return wire.Marshal(&wire.Status{
		V: wire.Version, Device: u.cfg.DeviceID, Boot: u.boot, State: state,
		Time: u.now().UnixMilli(), Firmware: u.cfg.Firmware, Interval: uint32(u.cfg.BeaconInterval / time.Second),
	})
}

// overflowPayload builds the outbox.overflow event (called by the outbox
// inside its write transaction).
func (u *Uplink) overflowPayload(id uint64, l outbox.Lost) ([]byte, error) {
	return wire.Marshal(&wire.Event{
		V: wire.Version, Device: u.cfg.DeviceID, Boot: u.boot, ID: id,
		Time: u.now().UnixMilli(), Clock: u.clock(), Kind: wire.EvOutboxOverflow, Sev: wire.SevWarning,
		Count: l.Total(),
		Lost:  &wire.Lost{Beacons: l.Beacons, Events: l.Events, Audit: l.Audit, FirstID: l.FirstID, LastID: l.LastID},
	})
}

// enqueueBeacon builds a beacon now and queues it (replacing a queued one).
func (u *Uplink) enqueueBeacon() {
	b := u.buildBeacon(u.deps.Health.Snapshot(), u.deps.Board.ReadBoard(), u.ob.Stats())
	err := u.enqueue(wire.KindBeacon, func(id uint64) (wire.Message, error) {
		b.Seq = id
		return &b, nil
	})
	if err != nil {
		u.log.Debug("uplink: beacon not queued", "err", err)
	}
}

func ptr[T any](v T) *T { return &v }

func clampU32(v uint64) uint32 { return uint32(min(v, 1<<32-1)) }

func camState(s health.CameraState) uint8 {
	switch s {
	case health.StateStarting:
		return wire.CamStarting
	case health.StateRecording:
		return wire.CamRecording
	case health.StateDegraded:
		return wire.CamDegraded
	case health.StateLost:
		return wire.CamLost
	case health.StateRefused:
		return wire.CamRefused
	case health.StateStopped:
		return wire.CamStopped
	}
	return wire.CamUnknown
}

// wireAlert maps a health alert to its wire form: the base code (or "other"
// when it is not a valid wire code), the opaque camera id, no text.
func (u *Uplink) wireAlert(a health.Alert) wire.BeaconAlert {
	base, cam := health.SplitCode(a.Code)
	if base == "" || !wire.ValidCode(base) {
		base = "other"
	}
	sev := uint8(a.Severity)
	if sev < wire.SevInfo || sev > wire.SevCritical {
		sev = wire.SevWarning
	}
	return wire.BeaconAlert{Code: base, Camera: u.opaque(cam), Sev: sev, Since: a.Since.UnixMilli()}
}

// buildBeacon assembles a beacon (Seq is set when it is queued). R23.
func (u *Uplink) buildBeacon(s health.Snapshot, bd Board, ob outbox.Stats) wire.Beacon {
	now := u.now()
	b := wire.Beacon{
		V: wire.Version, Device: u.cfg.DeviceID, Boot: u.boot, Time: now.UnixMilli(), Clock: bd.Clock,
		Firmware: u.cfg.Firmware, Uptime: uint32(max(0, now.Sub(u.start)/time.Second)),
		Interval:  uint32(u.cfg.BeaconInterval / time.Second),
		RingBytes: s.Storage.RingBytes, UsedBytes: s.Storage.UsedBytes,
		HorizonS: int64(s.Storage.Horizon / time.Second), FloorS: int64(s.Storage.HorizonFloor / time.Second),
		StoreErr: s.Storage.LastWriteErr != "",
		Backlog:  uint32(max(0, ob.Count+ob.Spilled)),
		Cameras:  []wire.BeaconCamera{}, Alerts: []wire.BeaconAlert{},
	}
	if wire.ValidKeyProvider(s.KeyProvider) { // issue 13; anything else is not sent
		b.KeyProvider = s.KeyProvider
	}
	b.System, b.Slot = u.cfg.System, u.cfg.Slot
	if len(u.cfg.DeviceKey) == 32 {
		b.DeviceKey = hex.EncodeToString(u.cfg.DeviceKey)
	}
	if !s.Started.IsZero() && s.Started.Before(u.start) {
		b.Uptime = uint32(max(0, now.Sub(s.Started)/time.Second))
	}
	if !s.Storage.Oldest.IsZero() {
		b.Oldest = s.Storage.Oldest.UnixMilli()
	}
	if bd.TempMilliC != nil {
		b.TempMilliC = ptr(*bd.TempMilliC)
	}
	if bd.Throttled != nil {
		b.Throttled = ptr(*bd.Throttled)
	}
	if bd.Load1 != nil {
		b.LoadCenti = ptr(uint32(max(0, *bd.Load1*100+0.5)))
	}
	if bd.MemTotalKiB != nil {
		b.MemTotal = ptr(clampU32(*bd.MemTotalKiB))
	}
	if bd.MemAvailKiB != nil {
		b.MemAvail = ptr(clampU32(*bd.MemAvailKiB))
	}
	b.CamsTotal = uint16(min(len(s.Cameras), 1<<16-1))
	for _, c := range s.Cameras {
		age := int64(-1)
		if !c.LastFrame.IsZero() {
			age = max(0, now.Sub(c.LastFrame).Milliseconds())
		}
		b.Cameras = append(b.Cameras, wire.BeaconCamera{
			ID: u.opaque(c.ID), State: camState(c.State),
			DeciFPS: uint16(min(max(0, c.FPS*10+0.5), 65535)), Kbps: uint32(min(max(0, c.Kbps+0.5), 1<<32-1)),
			AgeMs: age, Gaps: clampU32(c.Gaps), Masked: c.Masked, Image: uint8(c.Image), Dropped: clampU32(c.Dropped),
		})
	}
	// Opaque order: the local order could hint at names.
	sort.Slice(b.Cameras, func(i, j int) bool { return b.Cameras[i].ID < b.Cameras[j].ID })
	if len(b.Cameras) > wire.MaxBeaconCameras {
		b.Cameras = b.Cameras[:wire.MaxBeaconCameras]
	}
	for _, a := range s.Alerts {
		b.Alerts = append(b.Alerts, u.wireAlert(a))
	}
	sort.SliceStable(b.Alerts, func(i, j int) bool { return b.Alerts[i].Sev > b.Alerts[j].Sev })
	if len(b.Alerts) > wire.MaxBeaconAlerts {
		b.Alerts = b.Alerts[:wire.MaxBeaconAlerts]
	}
	if u.deps.AuditHead != nil {
		seq, h := u.deps.AuditHead()
		b.AuditSeq = seq
		if seq != 0 || h != ([32]byte{}) {
			b.AuditHash = hex.EncodeToString(h[:])
		}
	}
	if u.deps.AuditWithheld != nil {
		b.AuditWithheld = u.deps.AuditWithheld()
	}
	return b
}
