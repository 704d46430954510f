package fleetsim

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// Msg is one message to publish.
type Msg struct {
	Topic   string
	Payload []byte
	Kind    wire.Kind
	Retain  bool
}

// Gateway is one simulated gateway. Not safe for concurrent use.
type Gateway struct {
	Prefix   string
	Device   string
	Boot     string
	Interval uint32 // beacon interval, s (what the beacon says)
	Cameras  []wire.BeaconCamera
	Key      ed25519.PublicKey
	// StallAudit: audit records are built (the head advances) but Audit
	// returns nothing — the stalled feed of issue 17.
	StallAudit bool
	// NoKey: beacons carry no device key (older firmware).
	NoKey bool

	rnd      *rand.Rand
	id       uint64 // outbox id
	auditSeq uint64
	auditH   string
	Now      func() time.Time
}

// New returns gateway i of a simulated fleet with ncam cameras.
func New(prefix string, i, ncam int) *Gateway {
	r := rand.New(rand.NewPCG(uint64(i), 17))
	var seed [32]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
	g := &Gateway{
		Prefix: prefix, Device: fmt.Sprintf("gw-%05d", i), Interval: 60, rnd: r, Now: time.Now,
		Key: ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey),
	}
	g.Boot = fmt.Sprintf("%016x", r.Uint64())
	for c := 0; c < ncam; c++ {
		m := hmac.New(sha256.New, seed[:])
		fmt.Fprintf(m, "cam-%d", c)
		g.Cameras = append(g.Cameras, wire.BeaconCamera{
			ID: hex.EncodeToString(m.Sum(nil)[:8]), State: wire.CamRecording, DeciFPS: 150, Kbps: 1800,
			AgeMs: 40, Masked: c%3 == 0,
		})
	}
	return g
}

func (g *Gateway) topic(k wire.Kind) string { return g.Prefix + "/" + g.Device + "/" + k.Topic() }

func (g *Gateway) msg(k wire.Kind, m wire.Message) Msg {
	b, err := wire.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("fleetsim: %s: %v", k, err))
	}
	return Msg{Topic: g.topic(k), Payload: b, Kind: k}
}

// Status is the retained online (or offline) status.
func (g *Gateway) Status(online bool) Msg {
	st := wire.StateOnline
	if !online {
		st = wire.StateOffline
	}
	m := g.msg(wire.KindStatus, &wire.Status{V: wire.Version, Device: g.Device, Boot: g.Boot, State: st,
		Time: g.Now().UnixMilli(), Firmware: "1.7.0", Interval: g.Interval})
	m.Retain = true
	return m
}

// Beacon builds the next beacon (8 cameras ≈ 0.9 KB).
func (g *Gateway) Beacon() Msg {
	g.id++
	temp := int32(48000 + g.rnd.IntN(8000))
	thr := uint32(0)
	load := uint32(40 + g.rnd.IntN(80))
	memt, mema := uint32(1<<20), uint32(600000+g.rnd.IntN(1000))
	b := &wire.Beacon{
		V: wire.Version, Device: g.Device, Boot: g.Boot, Seq: g.id, Time: g.Now().UnixMilli(), Clock: wire.ClockSynced,
		Firmware: "1.7.0", Uptime: uint32(g.id * 60), Interval: g.Interval,
		TempMilliC: &temp, Throttled: &thr, LoadCenti: &load, MemTotal: &memt, MemAvail: &mema,
		RingBytes: 64 << 30, UsedBytes: 60 << 30, HorizonS: 16 * 86400, FloorS: 14 * 86400,
		Oldest:  g.Now().Add(-16 * 24 * time.Hour).UnixMilli(),
		Cameras: g.Cameras, CamsTotal: uint16(len(g.Cameras)), Alerts: []wire.BeaconAlert{},
		AuditSeq: g.auditSeq, AuditHash: g.auditH, Backlog: 0, KeyProvider: "tpm2",
	}
	if !g.NoKey {
		b.DeviceKey = hex.EncodeToString(g.Key)
	}
	for _, c := range g.Cameras {
		if c.State == wire.CamLost {
			b.Alerts = append(b.Alerts, wire.BeaconAlert{Code: "camera.lost", Camera: c.ID, Sev: wire.SevCritical, Since: b.Time})
		}
	}
	return g.msg(wire.KindBeacon, b)
}

// Event builds an event of kind.
func (g *Gateway) Event(kind string, sev uint8, n uint64) Msg {
	g.id++
	return g.msg(wire.KindEvent, &wire.Event{V: wire.Version, Device: g.Device, Boot: g.Boot, ID: g.id,
		Time: g.Now().UnixMilli(), Clock: wire.ClockSynced, Kind: kind, Sev: sev, Count: n})
}

var actions = []string{"login", "playback", "login.failed", "export", "grant.approve", "mask.change"}

// Audit appends a record to the chain and returns it (nothing while
// StallAudit; the head still advances).
func (g *Gateway) Audit() []Msg {
	g.id++
	g.auditSeq++
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%s", g.Device, g.auditSeq, g.auditH)))
	rec := &wire.Audit{V: wire.Version, Device: g.Device, Boot: g.Boot, ID: g.id, Seq: g.auditSeq,
		Time: g.Now().UnixMilli(), Actor: fmt.Sprintf("u-%016x", g.rnd.Uint64()), Action: actions[g.rnd.IntN(len(actions))],
		OK: true, Hash: hex.EncodeToString(h[:]), Prev: g.auditH}
	g.auditH = rec.Hash
	if g.StallAudit {
		return nil
	}
	return []Msg{g.msg(wire.KindAudit, rec)}
}

// BrokenAudit appends a record whose prev does not link (a forged or
// rewritten chain).
func (g *Gateway) BrokenAudit() Msg {
	g.auditH = hex.EncodeToString(make([]byte, 32))
	return g.Audit()[0]
}

// SkipAudit advances the chain by n records that are never sent (lost).
func (g *Gateway) SkipAudit(n int) {
	stall := g.StallAudit
	g.StallAudit = true
	for range n {
		g.Audit()
	}
	g.StallAudit = stall
}

// AuditHead is the head the next beacon will carry.
func (g *Gateway) AuditHead() (uint64, string) { return g.auditSeq, g.auditH }
