package wire

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

func p32(v int32) *int32    { return &v }
func pu32(v uint32) *uint32 { return &v }

const (
	tboot = "0123456789abcdef"
	thash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

// sampleBeacon is a realistic beacon for n cameras and a alerts.
func sampleBeacon(n, a int) *Beacon {
	b := &Beacon{V: Version, Device: "branch-0042-gw1", Boot: tboot, Seq: 123456, Time: 1795754251667, Clock: ClockSynced,
		Firmware: "1.4.2", Uptime: 864000, Interval: 60, TempMilliC: p32(61234), Throttled: pu32(0x50005),
		LoadCenti: pu32(187), MemTotal: pu32(3884000), MemAvail: pu32(2911000),
		RingBytes: 256 << 30, UsedBytes: 255 << 30, HorizonS: 35 * 86400, FloorS: 30 * 86400, Oldest: 1792730251667,
		AuditSeq: 987654, AuditHash: thash, Backlog: 3, CamsTotal: uint16(n)}
	for i := range n {
		b.Cameras = append(b.Cameras, BeaconCamera{ID: strings.Repeat(string("0123456789abcdef"[i%16]), 16), State: CamRecording,
			DeciFPS: 150, Kbps: 4096, AgeMs: 66, Gaps: 12, Masked: i%2 == 0, Image: 0})
	}
	for i := range a {
		b.Alerts = append(b.Alerts, BeaconAlert{Code: "camera.lost", Camera: strings.Repeat("a", 16), Sev: SevCritical, Since: 1795754251667 - int64(i)})
	}
	return b
}

func sampleMessages() map[string]Message {
	ms := map[string]Message{
		"status": &Status{V: Version, Device: "gw-1", Boot: tboot, State: StateOnline, Time: 1795754251667, Firmware: "1.4.2", Interval: 60},
		"beacon": sampleBeacon(8, 2),
		"audit": &Audit{V: Version, Device: "gw-1", Boot: tboot, ID: 77, Seq: 1234, Time: 1795754251667, Actor: "u-12", Action: "export",
			Targets: []string{"req-9", "u-3"}, Cameras: []string{"0123456789abcdef"}, Grant: "g-44", OK: true, Hash: thash, Prev: thash},
	}
	for _, k := range EventKinds {
		e := &Event{V: Version, Device: "gw-1", Boot: tboot, ID: 99, Time: 1795754251667, Clock: ClockUnsynced, Kind: k, Sev: SevWarning,
			Camera: "fedcba9876543210", Code: "frozen", Count: 5, Value: -1}
		if k == EvOutboxOverflow {
			e.Lost = &Lost{Beacons: 1, Events: 2, Audit: 0, FirstID: 10, LastID: 30}
		}
		if k == EvWipeCertificate {
			e.Detail = `{"device":"gw-1","wiped":"2026-11-27T10:00:00Z","sig":"` + strings.Repeat("ab", 32) + `"}`
		}
		ms["event "+k] = e
	}
	return ms
}

// strs returns every string and raw byte value inside a MessagePack value.
func strs(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	var walk func(b []byte) []byte
	walk = func(b []byte) []byte {
		switch msgp.NextType(b) {
		case msgp.StrType:
			s, rest, err := msgp.ReadStringZC(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
			return rest
		case msgp.BinType:
			s, rest, err := msgp.ReadBytesZC(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
			return rest
		case msgp.MapType:
			n, rest, _ := msgp.ReadMapHeaderBytes(b)
			for range 2 * n {
				rest = walk(rest)
			}
			return rest
		case msgp.ArrayType:
			n, rest, _ := msgp.ReadArrayHeaderBytes(b)
			for range n {
				rest = walk(rest)
			}
			return rest
		}
		rest, err := msgp.Skip(b)
		if err != nil {
			t.Fatal(err)
		}
		return rest
	}
	if rest := walk(b); len(rest) != 0 {
		t.Fatalf("%d trailing bytes", len(rest))
	}
	return out
}

// D6: every message type is a closed set; payloads stay within their size
// bounds and carry no H.264 start codes and no JPEG/PNG markers in any
// string or byte field, and no image signature anywhere.
func TestD6MetadataOnly(t *testing.T) {
	for name, m := range sampleMessages() {
		b, err := Marshal(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		k := KindOf(m)
		if len(b) > k.MaxBytes() {
			t.Fatalf("%s: %d bytes over the %d bound", name, len(b), k.MaxBytes())
		}
		for _, s := range strs(t, b) {
			for _, bad := range [][]byte{{0, 0, 1}, {0xFF, 0xD8}, {0x89, 'P', 'N', 'G'}} {
				if bytes.Contains(s, bad) {
					t.Fatalf("%s: a field holds % x", name, bad)
				}
			}
		}
		if bytes.Contains(b, []byte{0xFF, 0xD8, 0xFF}) || bytes.Contains(b, []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}) {
			t.Fatalf("%s: image signature in payload", name)
		}
		got, err := Decode(k, b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("%s: round trip %v\n%+v\n%+v", name, err, got, m)
		}
	}
	// The largest beacon still fits; 8 cameras stay well under 1 KiB (R23).
	if b, err := Marshal(sampleBeacon(MaxBeaconCameras, MaxBeaconAlerts)); err != nil {
		t.Fatalf("largest beacon: %v", err)
	} else {
		t.Logf("beacon with %d cameras and %d alerts: %d bytes", MaxBeaconCameras, MaxBeaconAlerts, len(b))
	}
	b8, _ := Marshal(sampleBeacon(8, 2))
	t.Logf("beacon with 8 cameras and 2 alerts: %d bytes", len(b8))
	if len(b8) >= 1024 {
		t.Fatalf("8-camera beacon is %d bytes", len(b8))
	}
}

// The gate refuses what is not metadata.
func TestCheckRefuses(t *testing.T) {
	withBin := msgp.AppendMapHeader(nil, 1)
	withBin = msgp.AppendString(withBin, "v")
	withBin = msgp.AppendBytes(withBin, []byte{1, 2, 3})
	nal := msgp.AppendMapHeader(nil, 1)
	nal = msgp.AppendString(nal, "detail")
	nal = msgp.AppendString(nal, "\x00\x00\x00\x01\x67")
	jpeg := append(msgp.AppendArrayHeader(nil, 1), msgp.AppendInt64(nil, 0)...)
	jpeg = append(jpeg, 0xFF, 0xD8, 0xFF, 0xE0)
	ext := msgp.AppendMapHeader(nil, 1)
	ext = msgp.AppendString(ext, "t")
	ext, _ = msgp.AppendExtension(ext, &msgp.RawExtension{Type: 5, Data: []byte{1}})
	for name, b := range map[string][]byte{"bin": withBin, "start code": nal, "jpeg": jpeg, "ext": ext, "empty": nil} {
		if err := Check(KindEvent, b); !errors.Is(err, ErrNotMeta) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	big := msgp.AppendString(nil, strings.Repeat("a", MaxEventBytes))
	if err := Check(KindEvent, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	e := sampleMessages()["event tamper"].(*Event)
	e2 := *e
	e2.Kind = "video.frame"
	if _, err := Marshal(&e2); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown kind: %v", err)
	}
	e2 = *e
	e2.Detail = `{"a":1}`
	if _, err := Marshal(&e2); !errors.Is(err, ErrInvalid) {
		t.Fatalf("detail outside wipe.certificate: %v", err)
	}
	e2 = *e
	e2.Camera = "front-door"
	if _, err := Marshal(&e2); !errors.Is(err, ErrInvalid) { // R19
		t.Fatalf("a local camera id must not pass: %v", err)
	}
	b, _ := Marshal(e)
	if _, err := Decode(KindEvent, append(b, 0xc0)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("trailing bytes: %v", err)
	}
	bs := *sampleBeacon(1, 0)
	bs.V = 2
	raw, _ := bs.MarshalMsg(nil)
	if _, err := Decode(KindBeacon, raw); !errors.Is(err, ErrVersion) {
		t.Fatalf("future version: %v", err)
	}
}

// SCHEMA.md lists exactly the fields of every wire type, and every event kind.
func TestSchemaDocumented(t *testing.T) {
	raw, err := os.ReadFile("../SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile("^[^|].*— `wire\\.(\\w+)`")
	row := regexp.MustCompile("^\\| `([^`]+)` \\|")
	doc := map[string][]string{}
	var cur string
	inTable := false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		l := sc.Text()
		if m := head.FindStringSubmatch(l); m != nil {
			cur, inTable = m[1], false
			continue
		}
		if cur == "" {
			continue
		}
		if m := row.FindStringSubmatch(l); m != nil {
			inTable = true
			doc[cur] = append(doc[cur], m[1])
		} else if inTable && !strings.HasPrefix(l, "|") {
			cur = ""
		}
	}
	for _, v := range []any{Status{}, Beacon{}, BeaconCamera{}, BeaconAlert{}, Event{}, Lost{}, Audit{}} {
		typ := reflect.TypeOf(v)
		var tags []string
		for i := range typ.NumField() {
			tags = append(tags, strings.Split(typ.Field(i).Tag.Get("msg"), ",")[0])
		}
		got := doc[typ.Name()]
		sort.Strings(tags)
		sort.Strings(got)
		if !reflect.DeepEqual(tags, got) {
			t.Errorf("SCHEMA.md section for wire.%s lists %v; the type has %v", typ.Name(), got, tags)
		}
	}
	for _, k := range EventKinds {
		if !bytes.Contains(raw, []byte("| `"+k+"` |")) {
			t.Errorf("event kind %s is not documented", k)
		}
	}
}

// FuzzDecode: no input panics the decoders or the gate; whatever decodes
// re-encodes to a stable payload that passes the gate.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		b, _ := Marshal(m)
		f.Add(byte(KindOf(m)), b)
	}
	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		k := Kind(kind%5 + 0)
		_ = Check(k, data)
		m, err := Decode(k, data)
		if err != nil {
			return
		}
		b, err := Marshal(m)
		if err != nil {
			t.Fatalf("decoded but does not re-encode: %v", err)
		}
		m2, err := Decode(k, b)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := Marshal(m2)
		if !bytes.Equal(b, b2) {
			t.Fatal("re-encoding is not stable")
		}
	})
}
