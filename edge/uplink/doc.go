// Package uplink owns the metadata-only uplink (D6): it builds health
// beacons (R23), turns faults into events (R24) and forwards audit records
// (R16), writes every message to a durable bbolt outbox first, and publishes
// the outbox in order over MQTT v5 (QoS 1, TLS) to the ops broker, removing a
// record only after its PUBACK. The device publishes and subscribes to
// nothing else (R21): no command ever comes back down.
//
// Topics are <prefix>/<device>/{status,beacon,event,audit}; payloads are the
// msgp records of package wire, documented in SCHEMA.md. Camera ids on the
// wire are opaque (HMAC-SHA256 of the local id under a per-device key, R19);
// camera names, alert texts and anything video never leave the device. In
// audit records only device-generated ids of a known shape (users "u-…",
// grants "g-…", exports "x-…", the device's fixed actor names) go in clear;
// every other actor, grant or target string is sent as "h:" and the same
// keyed hash, whatever the record's kind (ClearID). The

// package imports no video package (checked by cmd/edgerec's layering test
// and by this package's own).
//
// AuditPump forwards the audit log (read through the AuditSource interface
// it declares) into the uplink in chain order, keeping its position in
// <data>/uplink-audit.seq. It never stalls: a record the wire schema refuses
// goes as an audit.withheld placeholder (seq, hash, prev kept; counted in
// the beacon's awh; an audit.withheld event), queue errors are retried with
// backoff.
//
// Secrets at rest (issue 13, R32): the camera-id key lives in
// <data>/keys/uplink-id.key sealed under the device's vault ("uplink/idkey",
// through the Sealer interface this package declares; it does not import
// storage). A plain key of older firmware is sealed in place at the next
// load (same key, same opaque ids); a key sealed under another device's
// vault is an error and is left as it is. The MQTT client key comes either
// as a file (KeyFile) or as PEM bytes (KeyPEM) that the daemon opened from
// the vault ("vault:uplink/key" in the config; cmd/edgerec seals it at
// provisioning); the package never writes it to disk and never logs it.
//
// Subpackages: wire (schema), outbox (durable queue), mqttc (connection
// setup shared with the ops view), fleet (the `edgerec fleet` view),
// uplinktest (a mosquitto rig with generated certificates for tests).
//
// Around the transport (issue 15, out of cmd/edgerec): AuditPump forwards
// the policy store's audit chain; SecurityRelay carries account events and
// login bursts upstream and onto the front panel; Deliver and SendOnce send
// a last message (a wipe certificate) and wait for the broker's
// acknowledgement; HALBoard reads the beacon's board figures from
// hal/board.
package uplink
