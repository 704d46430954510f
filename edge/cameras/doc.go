// Package cameras runs the cameras of a gateway: it owns the cameras part
// of the config file, starts a pipeline and a recorder for each camera, and
// applies the changes made on the LAN page at run time. Its Manager is what
// edge/web (web.Cameras) and edge/live (live.Source) use; cmd/edgerec only
// constructs it: New(Config, Deps), then CheckExternalEdit,
// SealInlineCredentials and Run(ctx).
//
// Invariants:
//
//   - Every change is validated as a whole config, written to the config
//     file atomically (with its record, below), then applied; a change that
//     does not validate changes nothing, not even the file. Masks come in as
//     []mask.Mask and are validated once, by that whole-config validation;
//     the running pipeline gets the same values (R2).
//   - A camera that policy forbids (R1 prohibited zone, R3 no signage) never
//     starts; at start it is refused and audited ("camera.refuse").
//   - A change that reduces coverage or masking — removing a camera,
//     deleting, shrinking or moving a mask or fill → pixelate (compared
//     rasterized on a fixed grid, mask.Weakened), a zone or source change —
//     is not applied by one person (R27, coverage.go): classifyChange names
//     its kind, the exact proposal is kept as <data>/coverage/<sha256>.json
//     (its digest is recorded in the coverage grant, which seals it), and it
//     is applied only under an approved grant: by ApplyCoverage, or at the
//     next Run for one approved while the daemon was down; each grant is
//     used once (CoveragePolicy.UseCoverage) and audited "coverage.apply"
//     citing it; a proposal whose camera changed meanwhile is refused and
//     its grant revoked ("coverage.conflict"). A mixed change (one mask
//     added, another deleted) waits as a whole.
//   - The Settings page (issue 18) changes the rest of the config through
//     the manager too (ChangeSettings: same validation and write, cameras
//     untouchable through it), so the file has one writer; SetRetention
//     changes one camera's retention, and a shorter retention, there or by
//     Update, is a coverage change (retention_reduce, R6/R27) applied
//     without restarting the camera.
//   - Every write of the config file also writes <config>.written (the
//     file's SHA-256 and each camera's digest, configfile.go). At start a
//     config file that differs from it was edited outside the device
//     (CheckExternalEdit): audited "config.external_change" with the camera
//     ids added/removed/changed and raised as the health alert
//     "config.external" (R16).
//   - Camera passwords (issue 13, R32; credentials.go) are sealed by the
//     vault into <data>/vault/camera/<id>/password; the config keeps
//     credential: "vault:camera/<id>/password" and the source without the
//     password. Add/Update and SealInlineCredentials (a hand edit, after the
//     outside-edit check, rewritten and recorded as the device's own write,
//     audited "camera.credential_sealed") move an inline password there; a
//     coverage proposal carries a new password sealed. The full URL exists
//     only in memory, handed to the pipeline when a camera starts; a camera
//     whose item is missing or does not open is refused (health, log, audit
//     "camera.refuse") and the others record.
//   - The LAN page audits the changes with the person who made them; the
//     manager audits only its own decisions (refusals, coverage applied or
//     conflicting, passwords moved, outside edits). Its change methods take
//     no actor for that reason; ApplyCoverage takes the approver, who uses
//     the grant.
//
// The package declares what it uses (Auditor, CoveragePolicy, Sealer,
// Health; record.Store for segments); it imports neither the policy store
// nor the storage package itself.
package cameras
