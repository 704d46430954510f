package fleetd

import (
	"bufio"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// Metric names, hand-written Prometheus text exposition (format 0.0.4).
//
// Cardinality (documented in doc.go): per gateway a fixed set of series
// labelled {device}, plus per camera {device,camera} (opaque id, at most
// MaxCameraSeries per gateway), per event kind (closed set, only kinds
// seen), per drop reason (closed set, only reasons seen), one info series
// {device,firmware,key_provider,key} and at most one audit gap and one
// chain break series. No label ever carries a name, a text or a free
// string: device ids, opaque camera ids, firmware versions and key
// providers are validated on the wire.
const ns = "edgerec_fleet_"

type family struct {
	name, typ, help string
}

// expo writes one family at a time.
type expo struct {
	w *bufio.Writer
}

func (e expo) head(f family) {
	e.w.WriteString("# HELP " + ns + f.name + " " + f.help + "\n# TYPE " + ns + f.name + " " + f.typ + "\n")
}

func (e expo) sample(f family, value float64, labels ...string) {
	e.w.WriteString(ns + f.name)
	if len(labels) > 0 {
		e.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				e.w.WriteByte(',')
			}
			e.w.WriteString(labels[i])
			e.w.WriteString(`="`)
			e.w.WriteString(escapeLabel(labels[i+1]))
			e.w.WriteByte('"')
		}
		e.w.WriteByte('}')
	}
	e.w.WriteByte(' ')
	e.w.WriteString(strconv.FormatFloat(value, 'g', -1, 64))
	e.w.WriteByte('\n')
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(s string) string {
	if strings.ContainsAny(s, "\\\n\"") {
		return labelEscaper.Replace(s)
	}
	return s
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// per-gateway gauge families, each a func of the gateway.
type gwMetric struct {
	family
	val func(g *Gateway, now int64, stale float64) (float64, bool)
}

func always(f func(g *Gateway) float64) func(*Gateway, int64, float64) (float64, bool) {
	return func(g *Gateway, _ int64, _ float64) (float64, bool) { return f(g), true }
}

var gwMetrics = []gwMetric{
	{family{"gateway_up", "gauge", "1 if the gateway is online and beaconing (not offline, beacon younger than stale intervals)"},
		func(g *Gateway, now int64, stale float64) (float64, bool) { return b2f(!g.Down(now, stale)), true }},
	{family{"gateway_online", "gauge", "1 if the gateway's last status (retained) says online"},
		always(func(g *Gateway) float64 { return b2f(g.Status != wire.StateOffline) })},
	{family{"beacon_age_seconds", "gauge", "seconds since the last beacon arrived (service clock)"},
		func(g *Gateway, now int64, _ float64) (float64, bool) { return g.BeaconAge(now), true }},
	{family{"beacon_interval_seconds", "gauge", "the gateway's beacon interval"},
		always(func(g *Gateway) float64 { return float64(g.IntervalS) })},
	{family{"cameras_configured", "gauge", "cameras on the gateway (ncam)"},
		always(func(g *Gateway) float64 { return float64(g.CamsTotal) })},
	{family{"horizon_seconds", "gauge", "retention horizon at the observed bitrates (R7)"},
		always(func(g *Gateway) float64 { return float64(g.HorizonS) })},
	{family{"horizon_floor_seconds", "gauge", "policy retention floor (R6)"},
		always(func(g *Gateway) float64 { return float64(g.FloorS) })},
	{family{"ring_bytes", "gauge", "ring buffer size"},
		always(func(g *Gateway) float64 { return float64(g.RingBytes) })},
	{family{"ring_used_bytes", "gauge", "ring bytes holding footage"},
		always(func(g *Gateway) float64 { return float64(g.UsedBytes) })},
	{family{"store_error", "gauge", "1 if the store reported a write error"},
		always(func(g *Gateway) float64 { return b2f(g.StoreErr) })},
	{family{"temperature_celsius", "gauge", "SoC temperature (absent = unknown)"},
		func(g *Gateway, _ int64, _ float64) (float64, bool) {
			if g.TempMilli == nil {
				return 0, false
			}
			return float64(*g.TempMilli) / 1000, true
		}},
	{family{"throttled", "gauge", "1 if the board is under-voltage, capped, throttled or at the soft temperature limit now (get_throttled bits 0-3)"},
		func(g *Gateway, _ int64, _ float64) (float64, bool) {
			if g.Throttled == nil {
				return 0, false
			}
			return b2f(*g.Throttled&0xF != 0), true
		}},
	{family{"throttled_flags", "gauge", "raw get_throttled bits"},
		func(g *Gateway, _ int64, _ float64) (float64, bool) {
			if g.Throttled == nil {
				return 0, false
			}
			return float64(*g.Throttled), true
		}},
	{family{"clock_synced", "gauge", "clock state: 0 unknown, 1 not synchronized, 2 synchronized"},
		always(func(g *Gateway) float64 { return float64(g.Clock) })},
	{family{"outbox_backlog", "gauge", "messages waiting in the gateway's outbox"},
		always(func(g *Gateway) float64 { return float64(g.Backlog) })},
	{family{"alerts_active", "gauge", "active alerts in the last beacon"},
		always(func(g *Gateway) float64 { return float64(len(g.Alerts)) })},
	{family{"audit_head_seq", "gauge", "audit chain head announced by the last beacon (R16)"},
		always(func(g *Gateway) float64 { return float64(g.Audit.HeadSeq) })},
	{family{"audit_received_seq", "gauge", "highest audit seq received"},
		always(func(g *Gateway) float64 { return float64(g.Audit.High) })},
	{family{"audit_records_received_total", "counter", "audit records received (duplicates not counted)"},
		always(func(g *Gateway) float64 { return float64(g.Audit.Received) })},
	{family{"audit_gap_records", "gauge", "audit records missing: holes in the received seqs plus the head's lead over the highest received"},
		always(func(g *Gateway) float64 { return float64(g.Audit.GapRecords()) })},
	{family{"audit_chain_breaks_total", "counter", "places where a record's prev or the beacon head did not link"},
		always(func(g *Gateway) float64 { return float64(g.Audit.BreaksAll) })},
	{family{"audit_withheld", "gauge", "audit records the gateway sent as placeholders since its start (awh)"},
		always(func(g *Gateway) float64 { return float64(g.Audit.Withheld) })},
	{family{"device_key_changed", "gauge", "1 if a beacon carried a signing key other than the first one seen"},
		always(func(g *Gateway) float64 { return b2f(g.KeyChanged) })},
}

var (
	famInfo      = family{"gateway_info", "gauge", "1 per gateway; labels firmware, key_provider (file, tpm2, rpi-otp) and key (fingerprint of the pinned signing key)"}
	famCamStates = family{"cameras", "gauge", "cameras in the last beacon by state (recording, lost, refused, degraded, other)"}
	famCamState  = family{"camera_state", "gauge", "per opaque camera: 0 unknown, 1 starting, 2 recording, 3 degraded, 4 lost, 5 refused, 6 stopped"}
	famCamLost   = family{"camera_lost_seconds", "gauge", "per opaque camera: seconds since the service first saw it lost (0 = not lost)"}
	famEvents    = family{"events_total", "counter", "events received by kind (closed set)"}
	famGwDrop    = family{"gateway_dropped_total", "counter", "messages of a known gateway dropped, by reason"}
	famGap       = family{"audit_gap", "gauge", "the first missing audit range: label first = its first seq, value = its length (so last = first + value - 1; a label for last would change with every beacon while a stream stalls)"}
	famBreak     = family{"audit_chain_broken", "gauge", "the first chain break (label seq, why prev|head); 1 while the gateway's state shows it"}
	famMsgs      = family{"messages_total", "counter", "valid messages received by kind"}
	famDropped   = family{"dropped_total", "counter", "messages dropped by reason (topic, oversize, version, invalid, device_mismatch, flood, gateway_cap, forward)"}
	famGateways  = family{"gateways", "gauge", "gateways known"}
	famConnected = family{"broker_connected", "gauge", "1 while subscribed to the broker"}
	famStoreErr  = family{"state_errors_total", "counter", "failed writes of the state file"}
	famForwarded = family{"forwarded_total", "counter", "messages of another shard's gateways forwarded to it (--shards)"}
)

// WriteMetrics writes the exposition for the gateways in gws.
func (s *Service) WriteMetrics(out io.Writer, gws []Gateway) error {
	w := bufio.NewWriterSize(out, 64<<10)
	e := expo{w}
	now := s.now().UnixMilli()
	stale := s.cfg.StaleAfter
	for _, m := range gwMetrics {
		e.head(m.family)
		for i := range gws {
			if v, ok := m.val(&gws[i], now, stale); ok {
				e.sample(m.family, v, "device", gws[i].Device)
			}
		}
	}
	e.head(famInfo)
	for i := range gws {
		g := &gws[i]
		e.sample(famInfo, 1, "device", g.Device, "firmware", g.Firmware, "key_provider", g.KeyProv, "key", KeyFingerprint(g.DeviceKey))
	}
	e.head(famCamStates)
	for i := range gws {
		var rec, lost, ref, deg, other int
		for _, c := range gws[i].Cameras {
			switch c.State {
			case wire.CamRecording:
				rec++
			case wire.CamLost:
				lost++
			case wire.CamRefused:
				ref++
			case wire.CamDegraded:
				deg++
			default:
				other++
			}
		}
		d := gws[i].Device
		e.sample(famCamStates, float64(rec), "device", d, "state", "recording")
		e.sample(famCamStates, float64(lost), "device", d, "state", "lost")
		e.sample(famCamStates, float64(ref), "device", d, "state", "refused")
		e.sample(famCamStates, float64(deg), "device", d, "state", "degraded")
		e.sample(famCamStates, float64(other), "device", d, "state", "other")
	}
	for _, f := range []family{famCamState, famCamLost} {
		e.head(f)
		for i := range gws {
			g := &gws[i]
			for j, c := range g.Cameras {
				if j >= s.cfg.MaxCameraSeries {
					break
				}
				v := float64(c.State)
				if f == famCamLost {
					v = 0
					if c.LostSince > 0 {
						v = float64(now-c.LostSince) / 1000
					}
				}
				e.sample(f, v, "device", g.Device, "camera", c.ID)
			}
		}
	}
	e.head(famEvents)
	for i := range gws {
		for _, k := range sortedKeys(gws[i].Events) {
			e.sample(famEvents, float64(gws[i].Events[k]), "device", gws[i].Device, "kind", k)
		}
	}
	e.head(famGwDrop)
	for i := range gws {
		for _, k := range sortedKeys(gws[i].Dropped) {
			e.sample(famGwDrop, float64(gws[i].Dropped[k]), "device", gws[i].Device, "reason", k)
		}
	}
	e.head(famGap)
	for i := range gws {
		if miss := gws[i].Audit.Missing(); len(miss) > 0 {
			r := miss[0]
			e.sample(famGap, float64(r.Size()), "device", gws[i].Device, "first", strconv.FormatUint(r.First, 10))
		}
	}
	e.head(famBreak)
	for i := range gws {
		if br := gws[i].Audit.Breaks; len(br) > 0 {
			e.sample(famBreak, 1, "device", gws[i].Device, "seq", strconv.FormatUint(br[0].Seq, 10), "why", br[0].Why)
		}
	}
	c := s.Counts()
	e.head(famMsgs)
	for _, k := range wire.Kinds {
		e.sample(famMsgs, float64(c.Messages[k.Topic()]), "kind", k.Topic())
	}
	e.head(famDropped)
	for _, r := range dropReasons {
		e.sample(famDropped, float64(c.Dropped[r]), "reason", r)
	}
	e.head(famGateways)
	e.sample(famGateways, float64(len(gws)))
	e.head(famConnected)
	e.sample(famConnected, b2f(s.connected.Load()))
	e.head(famStoreErr)
	e.sample(famStoreErr, float64(s.storeErrs.Load()))
	e.head(famForwarded)
	e.sample(famForwarded, float64(s.forwarded.Load()))
	return w.Flush()
}

func sortedKeys(m map[string]uint64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
