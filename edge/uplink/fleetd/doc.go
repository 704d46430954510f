// Package fleetd owns `edgerec fleet serve`, the central ops service that
// runs at the ops centre (never on a gateway). It consumes the gateways'
// uplink messages (edge/uplink/SCHEMA.md) through an MQTT v5 shared
// subscription ($share/GROUP/<prefix>/+/+, so several instances split the
// load), keeps per-gateway state in a local bbolt file, and serves
// Prometheus metrics (/metrics), a small read-only page (/, gateways with
// problems first) and read-only JSON (/api/…) for `edgerec fleet audit` and
// `edgerec verify --fleet`. It only reads; it never publishes (R21).
//
// Invariants:
//   - Bad input never stops the service: a message with an unexpected
//     topic, an oversized or undecodable payload, an unknown schema
//     version, a payload whose dev differs from the topic's device, or one
//     over the device's rate (token bucket) is counted by reason
//     (edgerec_fleet_dropped_total, and per known gateway
//     edgerec_fleet_gateway_dropped_total) and dropped.
//   - Audit continuity (R16): per gateway, records must arrive with
//     contiguous seq, each prev equal to the hash before it, and the record
//     at the beacon's head seq must carry the beacon's head hash. A hole, or
//     a head ahead of the highest record received, is a gap
//     (edgerec_fleet_audit_gap{first}, value = length); a link that does not match is
//     a break (edgerec_fleet_audit_chain_broken{seq,why}). History from
//     before the service first met a gateway is not a gap. The service
//     cannot recompute record hashes (the records upstream carry ids only),
//     it checks linkage.
//   - Device keys: the first signing key a beacon carries (dk) is pinned
//     (trust on first use); a different one later sets device_key_changed,
//     which stays until the state file is edited by ops.
//   - Cardinality is bounded: at most MaxGateways gateways (further device
//     ids are dropped as gateway_cap); per gateway about 30 series plus 2 per
//     camera (opaque ids, at most MaxCameraSeries), one per event kind seen
//     (closed set of 16) and one per drop reason seen (closed set of 7). No
//     label carries free text.
//   - Affinity: a shared subscription spreads messages, not gateways; with
//     mosquitto's round robin two instances each see part of every
//     gateway's messages. Prometheus sums/maxes per device across
//     instances for beacon metrics, but audit continuity needs all of one
//     gateway's records in one instance: run one instance per share group
//     on mosquitto, or use a broker whose shared subscriptions stick to the
//     publisher (EMQX hash_clientid). See the README's "Central ops".
package fleetd
