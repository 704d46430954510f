package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/policy/rules"
)

// base is a valid config in block style so that every field has its own
// line. Line numbers are noted for the tests below.
const base = `device:                                   # 1
  id: gw-0001                               # 2
  site: "Branch 12"                         # 3
  school: false                             # 4
storage:                                    # 5
  data_dir: /data/edgerec                   # 6
  ring_size: 64GiB                          # 7
  flush_interval: 1s                        # 8
policy:                                     # 9
  retention_floor: 30d                      # 10
  retention_ceiling: 90d                    # 11
  prohibited_zones: []                      # 12
cameras:                                    # 13
  - id: cam1                                # 14
    name: "Front door"                      # 15
    source: "test://pattern?width=1280&height=720&fps=15"  # 16
    zone: entrance                          # 17
    signage: {attested_by: "A. Installer", date: 2026-11-27}  # 18
    retention: 30d                          # 19
    masks:                                  # 20
      - {name: window, style: fill, polygon: [[0.1,0.1],[0.4,0.1],[0.4,0.4],[0.1,0.4]]}  # 21
      - name: door                          # 22
        style: pixelate                     # 23
        polygon: [[0.6,0.5],[0.9,0.5],[0.9,0.9]]  # 24
  - id: cam2                                # 25
    source: "rtsp://admin:s3cret@192.168.1.20:554/stream1"  # 26
    zone: cash_desk                         # 27
lan:                                        # 28
  listen: "127.0.0.1:8443"                  # 29
  allowlist: ["192.168.1.0/24"]             # 30
uplink:                                     # 31
  broker: "mqtts://gw:hunter2@broker.example.com:8883"  # 32
  password: hunter2                         # 33
gpio: {status_led: GPIO17, tamper: GPIO27, wipe_button: GPIO22}  # 34
`

func TestParseGood(t *testing.T) {
	c, err := Parse([]byte(base), "edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.RingSize != 64<<30 || c.Storage.FlushInterval.D() != time.Second ||
		c.Policy.RetentionFloor.D() != 30*rules.Day || c.Policy.GrantMaxValidity.D() != 72*time.Hour ||
		c.Policy.StaleAccountDays != 90 {
		t.Fatalf("storage/policy: %+v %+v", c.Storage, c.Policy)
	}
	cam := c.Cameras[0]
	if cam.Zone != rules.ZoneEntrance || !cam.Signage.Complete() || cam.Signage.Date.String() != "2026-11-27" ||
		cam.BitrateKbps != DefaultBitrateKbps || cam.KeyframeInterval != DefaultKeyframeInterval {
		t.Fatalf("camera: %+v", cam)
	}
	ms := cam.MaskList()
	if len(ms) != 2 || ms[0].Style != mask.StyleFill || ms[1].Style != mask.StylePixelate || ms[1].Polygon[2] != (mask.Point{X: 0.9, Y: 0.9}) {
		t.Fatalf("masks: %+v", ms)
	}
	if _, err := mask.New(ms, mask.Options{}); err != nil {
		t.Fatal(err)
	}
	if c.Cameras[1].Name != "cam2" || string(c.Cameras[1].Source) != "rtsp://admin:s3cret@192.168.1.20:554/stream1" {
		t.Fatalf("cam2: %+v", c.Cameras[1])
	}
	if c.Uplink == nil || c.Uplink.TopicPrefix != "edgerec" || c.Uplink.BeaconInterval.D() != time.Minute {
		t.Fatalf("uplink: %+v", c.Uplink)
	}
	if c.LAN.LiveMaxPerUser != DefaultLiveMaxPerUser || c.LAN.LiveMaxDuration.D() != 30*time.Minute {
		t.Fatalf("lan live defaults: %+v", c.LAN)
	}
	if c, err := Parse([]byte(strings.Replace(base, `allowlist: ["192.168.1.0/24"]`, "allowlist: [\"192.168.1.0/24\"]\n  live_max_per_user: 3\n  live_max_duration: 1h", 1)), "x.yaml"); err != nil ||
		c.LAN.LiveMaxPerUser != 3 || c.LAN.LiveMaxDuration.D() != time.Hour {
		t.Fatalf("lan live settings: %v %+v", err, c)
	}
	if c.RingPath() != "/data/edgerec/ring" {
		t.Fatal(c.RingPath())
	}
	if got := c.CameraRetention(c.Cameras[1]); got != 30*rules.Day {
		t.Fatalf("cam2 retention %v, want the floor", got)
	}
}

// A parsed config survives Marshal → Parse unchanged (secrets included:
// Marshal is what is written back to the file).
func TestRoundTrip(t *testing.T) {
	c, err := Parse([]byte(base), "edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(out, "round-trip.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(c, c2) {
		t.Fatalf("round trip differs:\n%#v\n%#v", c, c2)
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "edgerec.yaml")
	if err := os.WriteFile(p, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p + ".missing"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	os.WriteFile(p, []byte("device: {id: BAD}\n"), 0o600)
	if _, err := Load(p); err == nil || !strings.HasPrefix(err.Error(), p+": line 1: device.id:") {
		t.Fatalf("Load must name the file: %v", err)
	}
}

// Identifiers written as numbers keep their text (YAML would read 0001 as 1).
func TestRawTextIDs(t *testing.T) {
	in := strings.Replace(strings.Replace(base, "id: gw-0001", "id: 0001   ", 1), "name: door", "name: 007 ", 1)
	c, err := Parse([]byte(in), "e.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Device.ID != "0001" || c.Cameras[0].Masks[1].Name != "007" {
		t.Fatalf("got %q %q", c.Device.ID, c.Cameras[0].Masks[1].Name)
	}
	out, _ := c.Marshal()
	if c2, err := Parse(out, "again.yaml"); err != nil || c2.Device.ID != "0001" {
		t.Fatalf("round trip: %v %+v", err, c2)
	}
}

// Each bad input gives one clear message with the file, line and field.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string // replace old by new in base ("" = append new)
		want     string
	}{
		{"unknown-top-key", "", "colour: red\n", `edgerec.yaml: line 35: unknown key "colour"`},
		{"unknown-nested-key", "    zone: entrance ", "    zones: entrance", `edgerec.yaml: line 17: cameras[0]: unknown key "zones"`},
		{"unknown-mask-key", "style: fill,", "colour: fill,", `edgerec.yaml: line 21: cameras[0].masks[0]: unknown key "colour"`},
		{"duplicate-key", "  school: false ", "  id: gw-0002   ", `edgerec.yaml: line 4: YAML syntax: mapping key "id" already defined at [2:3]`},
		{"syntax", `  site: "Branch 12"`, `  site: Branch: 12`, `edgerec.yaml: line 3: YAML syntax: mapping value is not allowed in this context`},
		{"syntax-tab", "  school: false ", "\tschool: false", `edgerec.yaml: line 4: YAML syntax: found character '\t' that cannot start any token`},
		{"device-id-missing", "  id: gw-0001 ", "  id: ''      ", `edgerec.yaml: line 2: device.id: missing`},
		{"device-id-unsafe", "id: gw-0001", "id: GW/1", `edgerec.yaml: line 2: device.id: "GW/1": use 1 to 64 of a-z, 0-9, - and _`},
		// Issue 18: the site's time zone is an IANA name.
		{"timezone-unknown", "  school: false ", "  timezone: Mars/Olympus", `edgerec.yaml: line 4: device.timezone: "Mars/Olympus" is not an IANA time zone name (such as Europe/Berlin or Asia/Shanghai)`},
		{"timezone-abbrev", "  school: false ", "  timezone: CEST", `edgerec.yaml: line 4: device.timezone: "CEST" is not an IANA time zone name`},
		// Issue 18: recording schedules, one clear error per bad window.
		{"schedule-overlap", "    zone: cash_desk ", "    zone: cash_desk\n    schedule:\n      - {days: [mon, tue], from: \"08:00\", to: \"12:00\"}\n      - {days: [tue], from: \"11:30\", to: \"13:00\"}", `edgerec.yaml: line 30: cameras[1].schedule[1]: overlaps schedule[0] on tue 11:30 (local time)`},
		{"schedule-bad-day", "    zone: cash_desk ", "    zone: cash_desk\n    schedule:\n      - {days: [mon, tues], from: \"08:00\", to: \"12:00\"}", `edgerec.yaml: line 29: cameras[1].schedule[0].days[1]: "tues" is not a weekday (mon, tue, wed, thu, fri, sat, sun)`},
		{"schedule-bad-clock", "    zone: cash_desk ", "    zone: cash_desk\n    schedule:\n      - {days: [mon], from: \"8:00\", to: \"12:00\"}", `edgerec.yaml: line 29: cameras[1].schedule[0].from: "8:00" is not HH:MM`},
		{"schedule-missing-to", "    zone: cash_desk ", "    zone: cash_desk\n    schedule:\n      - {days: [mon], from: \"08:00\"}", `edgerec.yaml: line 29: cameras[1].schedule[0].to: missing (HH:MM, local time)`},
		{"schedule-empty", "    zone: cash_desk ", "    zone: cash_desk\n    schedule:\n      - {days: [mon], from: \"08:00\", to: \"08:00\"}", `edgerec.yaml: line 29: cameras[1].schedule[0]: from and to are both 08:00 (for a whole day write 00:00–24:00)`},
		{"timezone-local", "  school: false ", "  timezone: Local", `edgerec.yaml: line 4: device.timezone: "Local" is not an IANA time zone name`},
		{"bad-size", "64GiB", "64 gigs", `edgerec.yaml: line 7: storage.ring_size: invalid size "64 gigs" (want bytes or a number with KiB, MiB, GiB, TiB)`},
		{"small-ring", "64GiB", "1000", `edgerec.yaml: line 7: storage.ring_size: 1000 is below the minimum of 16MiB`},
		{"bad-duration", "flush_interval: 1s", "flush_interval: soon", `edgerec.yaml: line 8: storage.flush_interval: invalid duration "soon" (want e.g. 30d, 72h, 1s)`},
		{"relative-data-dir", "/data/edgerec", "data", `edgerec.yaml: line 6: storage.data_dir: "data" is not an absolute path`},
		{"ceiling-below-floor", "retention_ceiling: 90d", "retention_ceiling: 20d", `edgerec.yaml: line 11: policy.retention_ceiling: retention ceiling 20d is below the floor 30d`},
		{"absurd-ceiling", "retention_ceiling: 90d", "retention_ceiling: 9999d", `edgerec.yaml: line 11: policy.retention_ceiling: retention ceiling 9999d is above the maximum of 400d`},
		{"unknown-prohibited-zone", "prohibited_zones: []", "prohibited_zones: [office, kitchen]", `edgerec.yaml: line 12: policy.prohibited_zones[1]: unknown zone type "kitchen" (known: bedroom,`},
		{"camera-id-dup", "id: cam2", "id: cam1", `edgerec.yaml: line 25: cameras[1].id: "cam1" is also the id of cameras[0]`},
		{"unknown-scheme", `source: "rtsp://admin`, `source: "foo://admin`, `edgerec.yaml: line 26: cameras[1].source: unknown source scheme "foo" (want test, rtsp, rtsps, v4l2)`},
		{"no-scheme", `source: "test://pattern?width=1280&height=720&fps=15"`, `source: "pattern"`, `edgerec.yaml: line 16: cameras[0].source: no URL scheme`},
		{"v4l2-no-device", `source: "test://pattern?width=1280&height=720&fps=15"`, `source: "v4l2://video0"`, `edgerec.yaml: line 16: cameras[0].source: v4l2 URL must name a device`},
		{"unknown-zone", "zone: cash_desk", "zone: cashdesk", `edgerec.yaml: line 27: cameras[1].zone: unknown zone type "cashdesk" (known: bedroom, cash_desk,`},
		{"retention-below-floor", "retention: 30d ", "retention: 7d  ", `edgerec.yaml: line 19: cameras[0].retention: retention 7d is below the policy floor of 30d (R6)`},
		{"bitrate-type", "", "", ""}, // placeholder replaced below
		{"mask-too-few-points", "polygon: [[0.6,0.5],[0.9,0.5],[0.9,0.9]]", "polygon: [[0.6,0.5],[0.9,0.5]]", `edgerec.yaml: line 24: cameras[0].masks[1].polygon: mask "door": fewer than 3 points (has 2)`},
		{"mask-point-outside", "[0.4,0.1],[0.4,0.4]", "[1.2,0.5],[0.4,0.4]", `edgerec.yaml: line 21: cameras[0].masks[0].polygon[1]: mask "window": point 2 (1.20, 0.50): x outside 0..1`},
		{"mask-point-arity", "[0.9,0.5],[0.9,0.9]]", "[0.9,0.5,0.1],[0.9,0.9]]", `edgerec.yaml: line 24: cameras[0].masks[1].polygon[1]: mask "door": point 2: want [x, y], got 3 numbers`},
		{"mask-style", "style: pixelate", "style: blur    ", `edgerec.yaml: line 23: cameras[0].masks[1].style: mask "door": unknown style "blur" (want fill or pixelate)`},
		{"mask-self-intersecting", "[[0.1,0.1],[0.4,0.1],[0.4,0.4],[0.1,0.4]]", "[[0.1,0.1],[0.4,0.4],[0.4,0.1],[0.1,0.4]]", `edgerec.yaml: line 21: cameras[0].masks[0].polygon[2]: mask "window": self-intersecting`},
		{"mask-dup-name", "name: door", "name: window", `edgerec.yaml: line 22: cameras[0].masks[1].name: mask "window": name also used by masks[0]`},
		{"listen", `listen: "127.0.0.1:8443"`, `listen: "127.0.0.1"`, `edgerec.yaml: line 29: lan.listen: "127.0.0.1" is not host:port`},
		{"allowlist", `allowlist: ["192.168.1.0/24"]`, `allowlist: ["192.168.1.0/24", "192.168.300.0/24"]`, `edgerec.yaml: line 30: lan.allowlist[1]: "192.168.300.0/24" is not an IP address or CIDR`},
		// R18, issue 12: live view limits.
		{"live-per-user-zero", `allowlist: ["192.168.1.0/24"]`, "allowlist: [\"192.168.1.0/24\"]\n  live_max_per_user: -1", `edgerec.yaml: line 31: lan.live_max_per_user: -1 outside 1..8 (the device-wide live view limit)`},
		{"live-per-user-above-device", `allowlist: ["192.168.1.0/24"]`, "allowlist: [\"192.168.1.0/24\"]\n  live_max_per_user: 9", `edgerec.yaml: line 31: lan.live_max_per_user: 9 outside 1..8`},
		{"live-per-user-type", `allowlist: ["192.168.1.0/24"]`, "allowlist: [\"192.168.1.0/24\"]\n  live_max_per_user: two", `edgerec.yaml: line 31: lan.live_max_per_user: want a whole number`},
		{"live-duration-short", `allowlist: ["192.168.1.0/24"]`, "allowlist: [\"192.168.1.0/24\"]\n  live_max_duration: 10s", `edgerec.yaml: line 31: lan.live_max_duration: 10s outside 1m..4h`},
		{"live-duration-long", `allowlist: ["192.168.1.0/24"]`, "allowlist: [\"192.168.1.0/24\"]\n  live_max_duration: 1d", `edgerec.yaml: line 31: lan.live_max_duration: 1d outside 1m..4h`},
		{"live-duration-bad", `allowlist: ["192.168.1.0/24"]`, "allowlist: [\"192.168.1.0/24\"]\n  live_max_duration: forever", `edgerec.yaml: line 31: lan.live_max_duration: invalid duration "forever"`},
		{"live-unknown-key", `allowlist: ["192.168.1.0/24"]`, "allowlist: [\"192.168.1.0/24\"]\n  live_max: 3", `edgerec.yaml: line 31: lan: unknown key "live_max"`},
		{"plaintext-mqtt", `broker: "mqtts://`, `broker: "mqtt://`, `edgerec.yaml: line 32: uplink.broker: plain mqtt:// sends metadata unencrypted; use mqtts:// or set allow_plaintext: true (R20)`},
		{"broker-scheme", `broker: "mqtts://`, `broker: "http://`, `edgerec.yaml: line 32: uplink.broker: unknown broker scheme "http" (want mqtts or mqtt)`},
		// Issue 13, R32: uplink.key is an absolute path or a vault reference.
		{"uplink-key-vault-other-namespace", "  password: hunter2", "  password: hunter2\n  cert: /data/c.pem\n  key: vault:devkey/ed25519", `edgerec.yaml: line 35: uplink.key: "vault:devkey/ed25519" is not a vault reference like vault:uplink/key`},
		{"uplink-key-vault-empty", "  password: hunter2", "  password: hunter2\n  cert: /data/c.pem\n  key: \"vault:\"", `edgerec.yaml: line 35: uplink.key: "vault:" is not a vault reference`},
		{"uplink-key-vault-traversal", "  password: hunter2", "  password: hunter2\n  cert: /data/c.pem\n  key: vault:uplink/../x", `edgerec.yaml: line 35: uplink.key: "vault:uplink/../x" is not a vault reference`},
		{"uplink-key-relative", "  password: hunter2", "  password: hunter2\n  cert: /data/c.pem\n  key: key.pem", `edgerec.yaml: line 35: uplink.key: "key.pem" is not an absolute path`},
		{"gpio-dup", "tamper: GPIO27", "tamper: GPIO17", `edgerec.yaml: line 34: gpio.tamper: GPIO17 is also gpio.status_led`},
		{"type-mismatch", "  school: false ", "  school: maybe ", `edgerec.yaml: line 4: device.school: want true or false`},
		{"cameras-not-list", "cameras:                                    # 13\n  - id: cam1", "cameras:\n  x: 1\n  y:\n  - id: cam1", `edgerec.yaml: line 13: cameras: mapping was used where sequence is expected`},
		{"anchor", "  site: \"Branch 12\"", "  site: &s \"Branch 12\"", `edgerec.yaml: line 3: device.site: YAML anchors, aliases and merge keys are not supported in the config`},
	} {
		if tc.name == "bitrate-type" {
			tc.old, tc.new = "    zone: cash_desk", "    zone: cash_desk\n    bitrate_kbps: fast"
			tc.want = `edgerec.yaml: line 28: cameras[1].bitrate_kbps: want a whole number`
		}
		t.Run(tc.name, func(t *testing.T) {
			in := base + tc.new
			if tc.old != "" {
				if !strings.Contains(base, tc.old) {
					t.Fatalf("test bug: %q not in base", tc.old)
				}
				in = strings.Replace(base, tc.old, tc.new, 1)
			}
			_, err := Parse([]byte(in), "edgerec.yaml")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got  %q\nwant %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatal("error does not wrap ErrInvalid")
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("secret in error: %v", err)
			}
			if strings.Count(err.Error(), "\n") != 0 {
				t.Fatalf("multi-line error: %q", err)
			}
		})
	}
}

// A mask error keeps its cause for callers (R2).
func TestParseErrorUnwrapsCause(t *testing.T) {
	in := strings.Replace(base, "[[0.6,0.5],[0.9,0.5],[0.9,0.9]]", "[[0.6,0.5],[0.9,0.5]]", 1)
	_, err := Parse([]byte(in), "x.yaml")
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 24 || ce.Path != "cameras[0].masks[1].polygon" || !errors.Is(err, mask.ErrInvalid) {
		t.Fatalf("%#v", err)
	}
}

// Secrets never appear in errors or String() output.
func TestSecretsRedacted(t *testing.T) {
	c, err := Parse([]byte(base), "edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", *c), fmt.Sprintf("%+v", c.Cameras), fmt.Sprintf("%#v", c.Cameras[1].Source), fmt.Sprintf("%+v", *c.Uplink)} {
		if strings.Contains(s, "s3cret") || strings.Contains(s, "hunter2") || strings.Contains(s, "admin:") {
			t.Fatalf("secret leaked:\n%s", s)
		}
	}
	if !strings.Contains(c.String(), "rtsp://REDACTED@192.168.1.20:554/stream1") {
		t.Fatalf("String() should keep the non-secret parts:\n%s", c)
	}
	// A source the URL parser rejects is not echoed either.
	in := strings.Replace(base, `rtsp://admin:s3cret@192.168.1.20:554/stream1`, `rtsp://admin:s3cret@[::1`, 1)
	if _, err := Parse([]byte(in), "e.yaml"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("got %v", err)
	}
	for in, want := range map[string]string{
		"rtsp://u:p@h/x":                "rtsp://REDACTED@h/x",
		"rtsp://h/x?user=a&password=b":  "rtsp://h/x?password=REDACTED&user=a",
		"v4l2:///dev/video0?width=640":  "v4l2:///dev/video0?width=640",
		"rtsp://u:p@[::1":               "rtsp://REDACTED@[::1",
		"mqtts://broker.example.com:88": "mqtts://broker.example.com:88",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// R1, R3: a prohibited zone or a missing signage attestation does not fail
// the config; the recorder refuses that camera with the reason.
func TestR1R3Refusal(t *testing.T) {
	in := strings.Replace(base, "zone: cash_desk", "zone: toilet", 1)
	c, err := Parse([]byte(in), "edgerec.yaml")
	if err != nil {
		t.Fatalf("a prohibited zone must parse (refused at run time): %v", err)
	}
	if err := c.Refusal(c.Cameras[0]); err != nil {
		t.Fatalf("cam1: %v", err)
	}
	err = c.Refusal(c.Cameras[1])
	if !errors.Is(err, rules.ErrProhibitedZone) || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), `zone "toilet" is prohibited: recording in toilets is never allowed (R1)`) {
		t.Fatalf("cam2: %v", err)
	}
	// R1: classroom at a school; and the policy's extra list.
	in = strings.Replace(strings.Replace(base, "school: false", "school: true ", 1), "zone: cash_desk", "zone: classroom", 1)
	c, _ = Parse([]byte(in), "e.yaml")
	if err := c.Refusal(c.Cameras[1]); !errors.Is(err, rules.ErrProhibitedZone) {
		t.Fatalf("classroom at school: %v", err)
	}
	in = strings.Replace(base, "prohibited_zones: []", "prohibited_zones: [entrance]", 1)
	c, _ = Parse([]byte(in), "e.yaml")
	if err := c.Refusal(c.Cameras[0]); !errors.Is(err, rules.ErrProhibitedZone) {
		t.Fatalf("extra prohibited: %v", err)
	}
	// R3: cam2 in base has no signage.
	c, _ = Parse([]byte(strings.Replace(base, "zone: cash_desk", "zone: parking", 1)), "e.yaml")
	if err := c.Refusal(c.Cameras[1]); err == nil || !strings.Contains(err.Error(), "(R3)") {
		t.Fatalf("no signage: %v", err)
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	c := Demo(dir)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Device.ID != "demo" || len(c.Cameras) != 1 || c.Cameras[0].ID != "demo1" || c.Cameras[0].Name != "Demo camera" ||
		c.Storage.RingSize != 256<<20 || c.Storage.DataDir != dir || c.LAN.Listen != "127.0.0.1:8443" {
		t.Fatalf("%+v", c)
	}
	if err := c.Refusal(c.Cameras[0]); err != nil {
		t.Fatal(err)
	}
	ms := c.Cameras[0].MaskList()
	if len(ms) != 2 || ms[0].Name != "window" || ms[0].Style != mask.StyleFill || ms[1].Name != "door" || ms[1].Style != mask.StylePixelate {
		t.Fatalf("%+v", ms)
	}
	// Each covers about 10% of the picture, and they are apart.
	for _, m := range ms {
		w := m.Polygon[1].X - m.Polygon[0].X
		h := m.Polygon[2].Y - m.Polygon[1].Y
		if a := w * h; a < 0.08 || a > 0.12 {
			t.Fatalf("mask %s covers %.3f", m.Name, a)
		}
	}
	if ms[0].Polygon[1].X >= ms[1].Polygon[0].X {
		t.Fatal("demo masks overlap horizontally")
	}
	// The demo config round-trips through the file format.
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(b, "demo.yaml")
	if err != nil || !reflect.DeepEqual(c, c2) {
		t.Fatalf("demo round trip: %v\n%s", err, b)
	}
	if err := Demo("relative").Validate(); err == nil || !strings.HasPrefix(err.Error(), "storage.data_dir:") {
		t.Fatalf("Validate without a file: %v", err)
	}
}

func TestSizeDuration(t *testing.T) {
	for in, want := range map[string]Size{"256MiB": 256 << 20, "64GiB": 64 << 30, "1048576": 1 << 20, "2TiB": 2 << 40, "1GB": 1e9, "10 KiB": 10 << 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "1.5GiB", "99999999999TiB", "GiB", "1PiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	for in, want := range map[string]time.Duration{"30d": 30 * rules.Day, "72h": 72 * time.Hour, "1s": time.Second, "0": 0, "1h30m": 90 * time.Minute, "250ms": 250 * time.Millisecond} {
		if got, err := ParseDuration(in); err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "30", "1.5d", "-1d", "d", "99999999999d", "1w"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	if Size(256<<20).String() != "256MiB" || Size(1000).String() != "1000" || Duration(72*time.Hour).String() != "3d" {
		t.Error("String")
	}
}

// Pathological input is refused quickly (the YAML parser is slow on deep
// nesting).
func TestParseLimits(t *testing.T) {
	for name, in := range map[string]string{
		"flow": strings.Repeat("[", 100000),
		"dash": strings.Repeat("- ", 50000),
		"block": func() string {
			var b strings.Builder
			for i := 0; i < 200; i++ {
				fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", i), i)
			}
			return b.String()
		}(),
		"big": strings.Repeat("#", maxFileSize+1),
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse([]byte(in), "x.yaml")
			if err == nil || time.Since(start) > 2*time.Second {
				t.Fatalf("%v after %v", err, time.Since(start))
			}
		})
	}
}

// testdata/good.yaml is the documented example (README design §5 shape, flow style).
func TestExampleFile(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cameras) != 2 || c.Device.Filing != "REG-2026-0042" || c.Uplink == nil || c.GPIO.WipeButton != "GPIO22" {
		t.Fatalf("%s", c)
	}
}

// Issue 13, R32: uplink.key may name the key sealed in the vault; the
// reference survives a load and a marshal.
func TestUplinkKeyVaultReference(t *testing.T) {
	in := strings.Replace(base, "  password: hunter2", "  password: hunter2\n  cert: /data/c.pem\n  key: vault:uplink/key", 1)
	c, err := Parse([]byte(in), "edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := UplinkKeyRef(c.Uplink.Key); !ok || name != VaultUplinkKey {
		t.Fatalf("uplink.key %q → %q %v", c.Uplink.Key, name, ok)
	}
	if _, ok := UplinkKeyRef("/data/edgerec/uplink/key.pem"); ok {
		t.Error("a path taken for a vault reference")
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(out, "edgerec.yaml")
	if err != nil || c2.Uplink.Key != "vault:uplink/key" {
		t.Fatalf("round trip: %v %q", err, c2.Uplink.Key)
	}
}
