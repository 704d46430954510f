// Package audit owns the tamper-evident audit log (R16): append-only
// records (time, actor, action, target, grant, result, detail) in a SHA-256
// hash chain, with ed25519-signed checkpoints, kept in buckets of the policy
// bbolt database so that a state change (a grant approved, a user disabled)
// and its audit record commit in one transaction or not at all.
//
// # Chain
//
// Record n carries Prev = hash(n-1) (zero for n = 1) and is stored under its
// 8-byte big-endian sequence number together with hash(n) =
// SHA-256("edgerec/audit/record/v1\0" ‖ msgp(record n)), where msgp is the
// canonical encoding generated for Record (a map with fields in declaration
// order; a stored value that is not byte-for-byte the canonical encoding of
// its content is corrupt). Sequence numbers start at 1 and have no gaps.
//
// # Signatures
//
// With the device key (policy/devkey) every commit rewrites a signed head
// seal (seq, hash, time) and, every Config.CheckpointEvery records (default
// 1000) or at the first append after Config.CheckpointInterval (default 1 h),
// keeps a signed checkpoint. Head seals and checkpoints are signed under
// different domain strings. Head returns (seq, hash) for beacons; After
// reads records in order for the uplink outbox.
//
// # What verification guarantees
//
// Verify, from genesis or from any signed checkpoint, detects for an
// attacker who can edit the database file but does not hold the device's
// private key:
//
//   - an edited record (content, hash or encoding): fails at that record;
//   - a deleted record: fails at its sequence number ("missing");
//   - records reordered or moved: fails at the first moved position;
//   - a record inserted by shifting later ones: fails at the insertion point,
//     or (if the inserted record is computed correctly) at the next one;
//   - an edited record with the whole chain after it recomputed: fails at the
//     first signed checkpoint or at the head seal, whichever comes first;
//   - a truncated tail: fails at the first missing sequence number, against
//     the head seal and the last signed checkpoint;
//   - a forged or copied checkpoint or head seal (bad signature, or a
//     checkpoint used as a head seal).
//
// # What it does not guarantee
//
//   - Secrecy: records are not encrypted (they carry ids, not names).
//   - An attacker with root on the device can read the private key and sign
//     a rewritten log; so can anyone who replaces both key files, unless the
//     verifier pins the public key recorded at provisioning. The defence is
//     off the device: the head (seq, hash) goes upstream with every beacon
//     and records go to the outbox, so a rewrite disagrees with what central
//     ops already hold.
//   - Rollback of the whole file to an older copy (consistent, validly
//     signed) is not detectable locally; again only the upstream heads show
//     it.
//   - Records lost in a power cut before their commit were never written;
//     bbolt commits are atomic, so a crash leaves either the old or the new
//     head, never half a record.
//   - Time fields come from the device clock, which may be unsynchronised
//     (a Pi has no RTC); they are recorded, not verified for monotonicity.
//
// Detail is free text for people; callers must not put camera names,
// passwords or password hashes in it.
package audit
