// Package fleetsim plays simulated gateways for tests and the load
// generator (scripts/fleetload): beacons, events and audit records with
// realistic payloads (schema v1, edge/uplink/SCHEMA.md), a real hash chain
// linkage, and faults on demand (a stalled audit stream, a broken link, a
// lost camera, a changed key, malformed payloads).
package fleetsim
