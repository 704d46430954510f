package wire

//go:generate go tool msgp

// Version is the schema version carried in every message's "v" field. A
// consumer must accept any message whose v it knows and ignore unknown map
// keys (fields are only ever added within a version).
const Version = 1

// Times on the wire are Unix milliseconds (UTC) unless a field says otherwise.
// Hashes and camera ids are lowercase hex strings, so no field carries raw
// bytes (see CheckMetadata).

// Status is the retained message on <prefix>/<device>/status: "online" when
// the device connects, "offline" as its last will or when it stops.
type Status struct {
	V        uint16 `msg:"v"`
	Device   string `msg:"dev"`
	Boot     string `msg:"boot"`
	State    string `msg:"state"` // StateOnline or StateOffline
	Time     int64  `msg:"t"`
	Firmware string `msg:"fw"`
	Interval uint32 `msg:"int"` // beacon interval, seconds
}

// Status states.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Beacon is the periodic health message on <prefix>/<device>/beacon (R23).
type Beacon struct {
	V        uint16 `msg:"v"`
	Device   string `msg:"dev"`
	Boot     string `msg:"boot"`
	Seq      uint64 `msg:"seq"`
	Time     int64  `msg:"t"`
	Clock    uint8  `msg:"clk"`
	Firmware string `msg:"fw"`
	Uptime   uint32 `msg:"up"`  // seconds
	Interval uint32 `msg:"int"` // seconds

	TempMilliC *int32  `msg:"temp,omitempty"` // SoC temperature, m°C
	Throttled  *uint32 `msg:"thr,omitempty"`  // Raspberry Pi get_throttled bits
	LoadCenti  *uint32 `msg:"load,omitempty"` // 1-minute load average × 100
	MemTotal   *uint32 `msg:"memt,omitempty"` // KiB
	MemAvail   *uint32 `msg:"mema,omitempty"` // KiB

	RingBytes int64 `msg:"ring"`
	UsedBytes int64 `msg:"used"`
	HorizonS  int64 `msg:"hz"`    // retention horizon at observed bitrates, seconds
	FloorS    int64 `msg:"floor"` // policy retention floor, seconds
	Oldest    int64 `msg:"old"`   // oldest footage, ms (0 = none)
	StoreErr  bool  `msg:"serr"`  // the store reported a write error

	Cameras   []BeaconCamera `msg:"cams"`
	CamsTotal uint16         `msg:"ncam"` // cameras on the device (Cameras may be capped)

	AuditSeq  uint64 `msg:"aseq"`
	AuditHash string `msg:"ahash"` // hex SHA-256 of the audit head ("" = none)
	// AuditWithheld counts audit records sent as placeholders since the
	// daemon started (see ActionWithheld).
	AuditWithheld uint64 `msg:"awh,omitempty"`

	Alerts  []BeaconAlert `msg:"alerts"`
	Backlog uint32        `msg:"obk"` // messages waiting in the outbox

	// KeyProvider is where the root key lives: "file", "tpm2", "rpi-otp"
	// (absent = not reported). Issue 13: "file" is keys on disk, not
	// protected against theft of the disk.
	KeyProvider string `msg:"kp,omitempty"`

	// DeviceKey is the device's ed25519 signing public key (the key that
	// signs export manifests and wipe certificates), 64 lowercase hex chars
	// ("" = not reported). The fleet service pins the first one it sees per
	// device and alerts when it changes (issue 17).
	DeviceKey string `msg:"dk,omitempty"`

	// System is the version of the running system image and Slot its root
	// slot ("A" or "B"), on gateways with A/B updates (issue 16; absent =
	// not reported).
	System string `msg:"sys,omitempty"`
	Slot   string `msg:"slot,omitempty"`
}

// BeaconCamera is one camera in a beacon. ID is opaque (R19).
type BeaconCamera struct {
	ID      string `msg:"id"`
	State   uint8  `msg:"st"`
	DeciFPS uint16 `msg:"fps"`  // frames/s × 10
	Kbps    uint32 `msg:"kbps"` // kbit/s
	AgeMs   int64  `msg:"age"`  // since the last frame, ms (-1 = never)
	Gaps    uint32 `msg:"gaps"`
	Masked  bool   `msg:"mask"`
	Image   uint8  `msg:"img"`  // image-health flags
	Dropped uint32 `msg:"drop"` // frames lost before recording since start (issue 14)
}

// BeaconAlert is one active alert in a beacon (never its text, D6).
type BeaconAlert struct {
	Code   string `msg:"c"`
	Camera string `msg:"cam,omitempty"` // opaque camera id
	Sev    uint8  `msg:"s"`
	Since  int64  `msg:"since"`
}

// Event is one fault or emergency on <prefix>/<device>/event (R24).
type Event struct {
	V      uint16 `msg:"v"`
	Device string `msg:"dev"`
	Boot   string `msg:"boot"`
	ID     uint64 `msg:"id"`
	Time   int64  `msg:"t"`
	Clock  uint8  `msg:"clk"`
	Kind   string `msg:"kind"`
	Sev    uint8  `msg:"s"`
	Camera string `msg:"cam,omitempty"`
	Code   string `msg:"code,omitempty"`
	Count  uint64 `msg:"n,omitempty"`
	Value  int64  `msg:"val,omitempty"`
	Lost   *Lost  `msg:"lost,omitempty"`
	Detail string `msg:"detail,omitempty"`
}

// Lost says what an outbox overflow dropped (kind outbox.overflow).
type Lost struct {
	Beacons uint64 `msg:"b"`
	Events  uint64 `msg:"e"`
	Audit   uint64 `msg:"a"`
	FirstID uint64 `msg:"first"`
	LastID  uint64 `msg:"last"`
}

// Audit is one audit record on <prefix>/<device>/audit (R16), in chain order.
type Audit struct {
	V       uint16   `msg:"v"`
	Device  string   `msg:"dev"`
	Boot    string   `msg:"boot"`
	ID      uint64   `msg:"id"`
	Seq     uint64   `msg:"seq"`
	Time    int64    `msg:"t"`
	Actor   string   `msg:"actor"`
	Action  string   `msg:"act"`
	Targets []string `msg:"tgt,omitempty"`
	Cameras []string `msg:"cams,omitempty"`
	Grant   string   `msg:"grant,omitempty"`
	OK      bool     `msg:"ok"`
	Hash    string   `msg:"h"`
	Prev    string   `msg:"prev"`
}
