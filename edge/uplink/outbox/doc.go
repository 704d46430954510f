// Package outbox owns the uplink's durable queue: a bbolt file in which every
// message (beacon, event, audit record) is written before it is published,
// read back in id order, and removed once the broker has acknowledged it
// (PUBACK). It survives restarts and power cuts (each append is an fsynced
// bbolt transaction, grouped when callers append concurrently).
//
// Invariants:
//   - ids are assigned from the bucket sequence inside the write transaction,
//     so they are unique and increase across restarts; the payload embeds its
//     id, so a re-sent record is byte-identical (duplicates carry the same id).
//   - at most one beacon is queued: a new beacon replaces the queued one
//     unless that one is being published right now (coalescing).
//   - the live size (keys + values) stays at or below MaxBytes. When a record
//     does not fit, records are dropped in this order until it does: queued
//     beacons, then the oldest events, then the oldest audit records; records
//     being published and the pending overflow event are never dropped. What
//     was dropped is reported by one "outbox.overflow" event (built by the
//     caller's Overflow func) that is kept at the tail and merged with the
//     next overflow while it has not been sent.
//   - when a write transaction fails (disk full, I/O error), the record is
//     kept in a bounded in-memory spill, in order, and written before anything
//     newer when writes work again; Append then returns ErrNotDurable.
package outbox
