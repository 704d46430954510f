// Package retention owns the daemon's housekeeping of recorded footage and
// of the people who may see it, modelled on mediamtx's record cleaner: one
// Service, built with New(cfg, deps) and run with Run(ctx), that
//
//   - keeps the storage figures on the health page current and raises the
//     R7 alert while the retention horizon at the observed bitrate is below
//     the policy floor;
//   - applies each camera's retention (R6) to the store every
//     Config.RetentionEvery (cryptographic erase of expired epochs);
//   - keeps the store's legal holds (R8) in step with the policy's approved
//     legal_hold grants, and raises a review alert for a hold older than
//     Config.HoldReviewAge;
//   - disables stale accounts (R14) at start and then every
//     Config.StaleEvery.
//
// Invariants:
//   - A hold is placed only for an approved and issued legal_hold grant and
//     released only when that grant is revoked (by the four-eyes flow);
//     expiry of the grant's validity never releases it. Each hold's
//     reference is "<grant id>:<camera>", so applying twice is a no-op.
//   - Every placement (ok or failed) and every release is audited as the
//     device.
//   - Failures are logged and shown as health alerts; they never stop the
//     loops (the recorder keeps recording).
//
// The store, the policy store and the health tracker are reached through
// the small interfaces declared here (Store, Policy, Health), so the
// service is tested without the binary.
package retention
