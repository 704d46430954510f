package fleetd

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// Bounds on what one gateway's state may hold, whatever it sends.
const (
	maxGaps        = 16 // missing ranges kept (the total count is exact)
	maxEventKinds  = 32 // wire.EventKinds is a closed set of 16
	maxAlertCodes  = 16 // as wire.MaxBeaconAlerts
	defaultKeepLog = 256
	// For warmupMs after first contact, records before the starting point
	// are taken as overtaken in transit, not as history (at most
	// maxBackfill of them).
	warmupMs    = 30_000
	maxBackfill = 10_000
)

// Range is an inclusive range of audit sequence numbers.
type Range struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// Size is the number of seqs in r.
func (r Range) Size() uint64 { return r.Last - r.First + 1 }

// Break is a place where the received hash chain does not link.
type Break struct {
	Seq  uint64 `json:"seq"`
	Want string `json:"want"` // the hash the chain says should be there
	Got  string `json:"got"`
	At   int64  `json:"at"`  // ms, service clock
	Why  string `json:"why"` // prev, head
}

// Camera is one camera of the last beacon (opaque id only, R19).
type Camera struct {
	ID    string `json:"id"`
	State uint8  `json:"st"`
	Kbps  uint32 `json:"kbps"`
	// LostSince is when the service first saw it lost (ms; 0 = not lost).
	LostSince int64 `json:"lost_since,omitempty"`
}

// AuditState is the upstream view of one gateway's audit chain (R16).
type AuditState struct {
	// Base is the seq before the first record this service expects: the
	// history before the service first met the gateway is not missing.
	Base     uint64  `json:"base"`
	BaseHash string  `json:"base_hash"` // the hash at Base, when known
	Started  bool    `json:"started"`
	High     uint64  `json:"high"`      // highest seq received
	HighHash string  `json:"high_hash"` // its hash
	Received uint64  `json:"received"`  // records accepted (not duplicates)
	Dups     uint64  `json:"dups"`
	Gaps     []Range `json:"gaps,omitempty"` // holes below High, oldest first (at most maxGaps)
	// GapsTotal counts every missing seq below High (also those beyond
	// the kept ranges).
	GapsTotal uint64  `json:"gaps_total"`
	Breaks    []Break `json:"breaks,omitempty"` // at most maxGaps, oldest first
	BreaksAll uint64  `json:"breaks_total"`
	Resets    uint64  `json:"resets"` // the chain started again at seq 1 (device re-provisioned)
	HeadSeq   uint64  `json:"head_seq"`
	HeadHash  string  `json:"head_hash"`
	Withheld  uint64  `json:"withheld"` // beacon awh
	Boot      string  `json:"boot"`     // boot id of the latest record accepted
}

// Missing returns the missing ranges: the holes, then everything between
// the highest record received and the head the beacon announced.
func (a *AuditState) Missing() []Range {
	out := append([]Range(nil), a.Gaps...)
	if lag := a.Lag(); lag > 0 {
		out = append(out, Range{a.High + 1, a.HeadSeq})
	}
	return out
}

// Lag is how many records the beacon's head is ahead of what arrived.
func (a *AuditState) Lag() uint64 {
	if !a.Started || a.HeadSeq <= a.High {
		return 0
	}
	return a.HeadSeq - a.High
}

// GapRecords is the number of missing records (holes + lag).
func (a *AuditState) GapRecords() uint64 { return a.GapsTotal + a.Lag() }

func (a *AuditState) addBreak(b Break) {
	a.BreaksAll++
	if len(a.Breaks) < maxGaps {
		a.Breaks = append(a.Breaks, b)
	}
}

// fill removes seq from the holes; it reports whether seq was missing.
func (a *AuditState) fill(seq uint64) bool {
	for i, g := range a.Gaps {
		if seq < g.First || seq > g.Last {
			continue
		}
		a.GapsTotal--
		switch {
		case g.First == g.Last:
			a.Gaps = append(a.Gaps[:i], a.Gaps[i+1:]...)
		case seq == g.First:
			a.Gaps[i].First++
		case seq == g.Last:
			a.Gaps[i].Last--
		default:
			a.Gaps = slices.Insert(a.Gaps, i+1, Range{seq + 1, g.Last})
			a.Gaps[i].Last = seq - 1
			if len(a.Gaps) > maxGaps {
				a.Gaps = a.Gaps[:maxGaps]
			}
		}
		return true
	}
	// A seq in a hole that is no longer kept (beyond maxGaps).
	if a.GapsTotal > a.keptGap() && seq > a.Base && seq < a.High {
		a.GapsTotal--
		return true
	}
	return false
}

func (a *AuditState) keptGap() uint64 {
	var n uint64
	for _, g := range a.Gaps {
		n += g.Size()
	}
	return n
}

// Gateway is the service's state of one gateway; it is what the bbolt file
// keeps (JSON) and what /metrics and the page show.
type Gateway struct {
	Device     string `json:"device"`
	Status     string `json:"status,omitempty"` // online, offline, "" (none seen)
	StatusAt   int64  `json:"status_at,omitempty"`
	Boot       string `json:"boot,omitempty"`
	Firmware   string `json:"fw,omitempty"`
	IntervalS  uint32 `json:"int"`
	FirstSeen  int64  `json:"first_seen"`
	LastSeen   int64  `json:"last_seen"`   // any valid message, ms (service clock)
	LastBeacon int64  `json:"last_beacon"` // ms (service clock); 0 = never
	BeaconSeq  uint64 `json:"beacon_seq"`
	Beacons    uint64 `json:"beacons"`

	Clock     uint8    `json:"clk"`
	TempMilli *int32   `json:"temp,omitempty"`
	Throttled *uint32  `json:"thr,omitempty"`
	RingBytes int64    `json:"ring"`
	UsedBytes int64    `json:"used"`
	HorizonS  int64    `json:"hz"`
	FloorS    int64    `json:"floor"`
	StoreErr  bool     `json:"serr"`
	CamsTotal uint16   `json:"ncam"`
	Cameras   []Camera `json:"cams"`
	Alerts    []string `json:"alerts"` // codes only (D6)
	Backlog   uint32   `json:"obk"`
	KeyProv   string   `json:"kp,omitempty"`

	// DeviceKey is the first signing key seen (pinned); SeenKey the last
	// one a beacon carried. KeyChanged stays set until ops re-pin.
	DeviceKey  string `json:"dk,omitempty"`
	SeenKey    string `json:"dk_seen,omitempty"`
	KeyChanged bool   `json:"dk_changed,omitempty"`

	Events  map[string]uint64 `json:"events,omitempty"`  // by kind (closed set)
	Dropped map[string]uint64 `json:"dropped,omitempty"` // by reason (closed set)

	Audit AuditState `json:"audit"`
}

// KeyFingerprint is the short fingerprint of a hex public key shown on the
// page and in metrics: the first 16 hex chars of SHA-256 over the key bytes.
func KeyFingerprint(hexKey string) string {
	raw, err := hex.DecodeString(hexKey)
	if err != nil || len(raw) == 0 {
		return ""
	}
	s := sha256.Sum256(raw)
	return hex.EncodeToString(s[:8])
}

func (g *Gateway) countEvent(kind string) {
	if g.Events == nil {
		g.Events = map[string]uint64{}
	}
	if _, ok := g.Events[kind]; !ok && len(g.Events) >= maxEventKinds {
		return
	}
	g.Events[kind]++
}

func (g *Gateway) countDrop(reason string) {
	if g.Dropped == nil {
		g.Dropped = map[string]uint64{}
	}
	g.Dropped[reason]++
}

// applyStatus applies a status message.
func (g *Gateway) applyStatus(m *wire.Status, now int64) {
	g.Status, g.StatusAt, g.Boot, g.Firmware = m.State, now, m.Boot, m.Firmware
	if m.Interval > 0 {
		g.IntervalS = m.Interval
	}
}

// applyBeacon applies a beacon. Beacons of one device can arrive out of
// order only after an outbox replay; an older seq than the last one is
// counted but not applied.
func (g *Gateway) applyBeacon(m *wire.Beacon, now int64) {
	g.Beacons++
	if m.Seq != 0 && m.Seq < g.BeaconSeq && m.Boot == g.Boot {
		g.countDrop("stale_beacon")
		return
	}
	g.LastBeacon, g.BeaconSeq, g.Boot, g.Firmware = now, m.Seq, m.Boot, m.Firmware
	if g.Status == "" || g.Status == wire.StateOffline && now > g.StatusAt {
		// A beacon means it is up, whatever an older will said.
		g.Status = wire.StateOnline
	}
	if m.Interval > 0 {
		g.IntervalS = m.Interval
	}
	g.Clock, g.TempMilli, g.Throttled = m.Clock, m.TempMilliC, m.Throttled
	g.RingBytes, g.UsedBytes, g.HorizonS, g.FloorS, g.StoreErr = m.RingBytes, m.UsedBytes, m.HorizonS, m.FloorS, m.StoreErr
	g.CamsTotal, g.Backlog, g.KeyProv = m.CamsTotal, m.Backlog, m.KeyProvider
	lost := map[string]int64{}
	for _, c := range g.Cameras {
		lost[c.ID] = c.LostSince
	}
	g.Cameras = g.Cameras[:0]
	for _, c := range m.Cameras { // ≤ wire.MaxBeaconCameras, validated opaque ids
		cam := Camera{ID: c.ID, State: c.State, Kbps: c.Kbps}
		if c.State == wire.CamLost {
			cam.LostSince = lost[c.ID]
			if cam.LostSince == 0 {
				cam.LostSince = now
			}
		}
		g.Cameras = append(g.Cameras, cam)
	}
	g.Alerts = g.Alerts[:0]
	for _, a := range m.Alerts {
		if len(g.Alerts) < maxAlertCodes {
			g.Alerts = append(g.Alerts, a.Code)
		}
	}
	if m.DeviceKey != "" {
		g.SeenKey = m.DeviceKey
		switch {
		case g.DeviceKey == "":
			g.DeviceKey = m.DeviceKey // trust on first use
		case g.DeviceKey != m.DeviceKey:
			g.KeyChanged = true
		}
	}
	g.applyHead(m.AuditSeq, m.AuditHash, m.AuditWithheld, now)
}

// applyHead takes the audit head a beacon announced.
func (g *Gateway) applyHead(seq uint64, hash string, withheld uint64, now int64) {
	a := &g.Audit
	a.Withheld = withheld
	if !a.Started {
		// First contact: what came before is history, not a gap.
		a.Started, a.Base, a.BaseHash, a.High, a.HighHash = true, seq, hash, seq, hash
	}
	if seq < a.HeadSeq && seq < a.Base {
		// A head behind where we started: the chain was reset (wipe and
		// re-provision). Start again from it.
		a.Resets++
		*a = AuditState{Started: true, Base: seq, High: seq, HighHash: hash, Resets: a.Resets, Received: a.Received,
			BreaksAll: a.BreaksAll, Breaks: a.Breaks}
	}
	a.HeadSeq, a.HeadHash = seq, hash
	if seq == a.High && a.HighHash != "" && hash != "" && hash != a.HighHash {
		a.addBreak(Break{Seq: seq, Want: hash, Got: a.HighHash, At: now, Why: "head"})
	}
}

// applyAudit applies one audit record: contiguity and linkage (R16).
func (g *Gateway) applyAudit(r *wire.Audit, now int64) (stored bool) {
	a := &g.Audit
	if !a.Started {
		a.Started, a.Base, a.BaseHash, a.High, a.HighHash = true, r.Seq-1, r.Prev, r.Seq-1, r.Prev
		if r.Seq == 0 {
			a.Base, a.High = 0, 0
		}
	}
	// A chain from seq 1 again under a boot id we did not see last is a
	// re-provisioned device (a replayed seq 1 carries its old boot id).
	if r.Seq == 1 && r.Prev == "" && a.High > 1 && a.Boot != "" && r.Boot != a.Boot {
		a.Resets++
		*a = AuditState{Started: true, Resets: a.Resets, Received: a.Received, BreaksAll: a.BreaksAll, Breaks: a.Breaks,
			HeadSeq: a.HeadSeq, HeadHash: a.HeadHash, Withheld: a.Withheld}
	}
	switch {
	case r.Seq <= a.Base && r.Seq > 0 && now-g.FirstSeen < warmupMs && a.Base-r.Seq < maxBackfill:
		// Shortly after first contact, a record before where we started
		// was overtaken in transit (a forwarded message, a redelivery):
		// the start moves back to it, and what lies between is expected.
		if r.Seq < a.Base {
			a.GapsTotal += a.Base - r.Seq
			a.Gaps = slices.Insert(a.Gaps, 0, Range{r.Seq + 1, a.Base})
			if len(a.Gaps) > maxGaps {
				a.Gaps = a.Gaps[:maxGaps]
			}
		}
		a.Base, a.BaseHash = r.Seq-1, r.Prev
		a.Received++
		return true
	case r.Seq <= a.Base:
		a.Dups++ // history from before the service started, or a replay
		return false
	case r.Seq <= a.High:
		if !a.fill(r.Seq) {
			a.Dups++
			return false
		}
		a.Received++
		return true
	}
	// r.Seq > a.High: the next one, or after a hole.
	if r.Seq > a.High+1 {
		n := r.Seq - a.High - 1
		a.GapsTotal += n
		if len(a.Gaps) < maxGaps {
			a.Gaps = append(a.Gaps, Range{a.High + 1, r.Seq - 1})
		}
	} else if a.HighHash != "" && r.Prev != a.HighHash {
		a.addBreak(Break{Seq: r.Seq, Want: a.HighHash, Got: r.Prev, At: now, Why: "prev"})
	}
	a.High, a.HighHash, a.Boot = r.Seq, r.Hash, r.Boot
	a.Received++
	if r.Seq == a.HeadSeq && a.HeadHash != "" && r.Hash != a.HeadHash {
		a.addBreak(Break{Seq: r.Seq, Want: a.HeadHash, Got: r.Hash, At: now, Why: "head"})
	}
	return true
}

// Problem is one reason a gateway is listed first on the page.
type Problem struct {
	Code string `json:"code"`
	Sev  int    `json:"sev"` // 3 critical, 2 warning
}

// Problems lists what is wrong with g at now (ms), most severe first.
func (g *Gateway) Problems(now int64, staleAfter float64) []Problem {
	var p []Problem
	add := func(code string, sev int) { p = append(p, Problem{code, sev}) }
	if g.Down(now, staleAfter) {
		add("down", 3)
	}
	if g.KeyChanged {
		add("key.changed", 3)
	}
	if len(g.Audit.Breaks) > 0 {
		add("audit.chain_broken", 3)
	}
	if g.Audit.GapRecords() > 0 {
		add("audit.gap", 2)
	}
	for _, c := range g.Cameras {
		if c.State == wire.CamLost {
			add("camera.lost", 3)
			break
		}
	}
	if g.FloorS > 0 && g.HorizonS > 0 && g.HorizonS < g.FloorS {
		add("horizon.below_floor", 2)
	}
	if g.StoreErr {
		add("disk.error", 3)
	}
	if g.Clock == wire.ClockUnsynced {
		add("clock.unsynced", 2)
	}
	if g.Throttled != nil && *g.Throttled&0xF != 0 {
		add("throttled", 2)
	}
	if g.Events[wire.EvTamper] > 0 {
		add("tamper", 3)
	}
	if g.KeyProv == "file" {
		add("keys.on_disk", 2)
	}
	sort.SliceStable(p, func(i, j int) bool { return p[i].Sev > p[j].Sev })
	return p
}

// Down reports whether the gateway is offline or its beacons stopped for
// staleAfter intervals.
func (g *Gateway) Down(now int64, staleAfter float64) bool {
	if g.Status == wire.StateOffline {
		return true
	}
	return g.BeaconAge(now) > staleAfter*float64(max(g.IntervalS, 1))
}

// BeaconAge is the seconds since the last beacon (since first seen when
// none came yet).
func (g *Gateway) BeaconAge(now int64) float64 {
	ref := g.LastBeacon
	if ref == 0 {
		ref = g.FirstSeen
	}
	return float64(now-ref) / float64(time.Second/time.Millisecond)
}
