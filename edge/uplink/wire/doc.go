// Package wire owns the uplink's wire format: the four message types
// (Status, Beacon, Event, Audit) as msgp-generated MessagePack records, their
// topics, content types, size bounds and the metadata-only check that every
// payload passes before it may enter the outbox (D6).
//
// The schema is documented in ../SCHEMA.md; a test keeps the two in step.
// The set of message types and the set of event kinds are closed: a decoder
// rejects what it does not know, the encoder side has no free-form payload.
package wire
