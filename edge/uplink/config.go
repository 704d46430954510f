package uplink

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// Config is the uplink's configuration (config.Uplink plus what the daemon
// knows: device id, firmware, data paths).
type Config struct {
	Broker         string // mqtts://host:port; mqtt:// only with AllowPlaintext
	AllowPlaintext bool
	CAFile         string
	CertFile       string
	KeyFile        string // PEM key file; or KeyPEM
	// KeyPEM is the client key (PEM) opened from the device's vault by the
	// daemon ("vault:uplink/key" in the config, issue 13); never logged.
	KeyPEM      []byte
	Username    string
	Password    string // never logged
	TopicPrefix string // default "edgerec"
	DeviceID    string
	Firmware    string
	// System and Slot: the running system image's version and root slot
	// (A/B updates, issue 16); "" = not reported.
	System         string
	Slot           string
	BeaconInterval time.Duration // default 60 s
	OutboxPath     string        // e.g. <data>/outbox.db
	OutboxMaxBytes int64         // default 4 MiB
	IDKey          []byte        // 32 bytes, see LoadOrCreateKey (R19)
	// DeviceKey is the device's ed25519 signing public key (signs export
	// manifests and wipe certificates); beacons carry it as dk so the
	// fleet service can pin it (issue 17). nil = not reported.
	DeviceKey []byte

	// Tuning; zero values take the defaults.
	WatchInterval  time.Duration // how often health is diffed into events; default 2 s
	DownGrace      time.Duration // no connection this long raises uplink.down; default 2 min
	RetryMin       time.Duration // reconnect backoff; default 1 s
	RetryMax       time.Duration // default 60 s
	KeepAlive      time.Duration // default 30 s
	ConnectTimeout time.Duration // default 10 s
	PacketTimeout  time.Duration // PUBACK wait; default 15 s
	FlushTimeout   time.Duration // on shutdown, keep publishing this long; default 3 s
}

// DefaultTopicPrefix is the topic prefix when none is configured.
const DefaultTopicPrefix = "edgerec"

// DefaultBeaconInterval is the beacon period when none is configured.
const DefaultBeaconInterval = 60 * time.Second

// ErrConfig marks a configuration error.
var ErrConfig = errors.New("uplink: config")

func (c *Config) defaults() {
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.BeaconInterval <= 0 {
		c.BeaconInterval = DefaultBeaconInterval
	}
	if c.WatchInterval <= 0 {
		c.WatchInterval = 2 * time.Second
	}
	if c.DownGrace <= 0 {
		c.DownGrace = 2 * time.Minute
	}
	if c.RetryMin <= 0 {
		c.RetryMin = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 60 * time.Second
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 30 * time.Second
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = 3 * time.Second
	}
	if c.Firmware == "" {
		c.Firmware = "unknown"
	}
}

func (c *Config) validate() error {
	if _, err := mqttc.ParseBroker(c.Broker, c.AllowPlaintext); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if !wire.ValidDevice(c.DeviceID) {
		return fmt.Errorf("%w: device id %q must be 1-64 of A-Z a-z 0-9 . _ -", ErrConfig, c.DeviceID)
	}
	for _, l := range strings.Split(c.TopicPrefix, "/") {
		if l == "" || strings.ContainsAny(l, "+#\x00") || strings.HasPrefix(c.TopicPrefix, "$") {
			return fmt.Errorf("%w: topic prefix %q", ErrConfig, c.TopicPrefix)
		}
	}
	if c.System != "" && !wire.ValidFirmware(c.System) {
		return fmt.Errorf("%w: system version %q", ErrConfig, c.System)
	}
	if c.Slot != "" && c.Slot != "A" && c.Slot != "B" {
		return fmt.Errorf("%w: slot %q", ErrConfig, c.Slot)
	}
	if !wire.ValidFirmware(c.Firmware) {
		return fmt.Errorf("%w: firmware version %q", ErrConfig, c.Firmware)
	}
	if len(c.IDKey) != KeySize {
		return fmt.Errorf("%w: camera-id key must be %d bytes (LoadOrCreateKey)", ErrConfig, KeySize)
	}
	if c.OutboxPath == "" {
		return fmt.Errorf("%w: outbox path is empty", ErrConfig)
	}
	if c.KeyFile != "" && len(c.KeyPEM) > 0 {
		return fmt.Errorf("%w: key file and key bytes are exclusive", ErrConfig)
	}
	if (c.CertFile == "") != (c.KeyFile == "" && len(c.KeyPEM) == 0) {
		return fmt.Errorf("%w: cert and key go together", ErrConfig)
	}
	if c.BeaconInterval < time.Second {
		return fmt.Errorf("%w: beacon interval %s is below 1s", ErrConfig, c.BeaconInterval)
	}
	return nil
}

// HealthSource is where beacons and derived events come from
// (*health.Tracker).
type HealthSource interface {
	Snapshot() health.Snapshot
}

// AlertSink receives the uplink's own alerts (*health.Tracker): broker
// unreachable, TLS or credentials refused, outbox write errors, backlog.
type AlertSink interface {
	Raise(code string, sev health.Severity, text string)
	Resolve(code string)
}

// Deps are the uplink's collaborators.
type Deps struct {
	Health HealthSource // required
	Alerts AlertSink    // optional; usually the same *health.Tracker
	// AuditHead returns the audit chain head (R16); nil = not reported.
	AuditHead func() (seq uint64, hash [32]byte)
	// AuditWithheld returns how many audit records went upstream as
	// placeholders since start (AuditPump.Withheld); nil = not reported.
	AuditWithheld func() uint64
	Logger        *slog.Logger
	Now           func() time.Time
	// Board reads temperature, throttling, load, memory and clock state
	// (cmd/edgerec: hal/board); nil = all unknown.
	Board BoardReader
	// OutboxWriteFault is passed to the outbox (tests simulate a full disk).
	OutboxWriteFault func() error
}
