// Command edgerec is the edge recorder: one static binary with the
// subcommands of README design §5. This package is the composition root: it is
// the only place that imports every other package and wires them together.
//
// The camera manager (cameras.go) validates every camera change as a whole
// config, persists it atomically and applies it live. A change that
// reduces coverage or masking — removing a camera, deleting, shrinking or
// moving a mask or fill → pixelate (compared rasterized on a fixed grid,
// mask.Weakened), a zone or source change — is not applied by one person
// (R27, coverage.go): classifyChange names its kind, the exact proposal is
// kept as <data>/coverage/<sha256>.json (its digest is recorded in the
// coverage grant, which seals it), and it is applied only after an
// approver who is not the requester approves the grant: at once by the
// approve call, or at the next start for one approved while the daemon was
// down; each grant is applied once (policy.Store.UseCoverage) and audited
// "coverage.apply" citing it; a proposal whose camera changed meanwhile is
// refused and its grant revoked ("coverage.conflict"). A mixed change (one
// mask added, another deleted) waits as a whole.
//
// Every write of the config file also writes <config>.written (the file's
// SHA-256 and each camera's digest, configrecord.go). At start a config
// file that differs from it was edited outside the device: audited as
// "config.external_change" with the camera ids added/removed/changed and
// raised as the health alert "config.external" (sent upstream as an
// alert.raised event) (R16).
//
// Camera passwords (issue 13, R32; credentials.go) are sealed by the
// store's vault into <data>/vault/camera/<id>/password; the config keeps
// credential: "vault:camera/<id>/password" and the source without the
// password. `provision --config`, the LAN page (Add/Update of the camera
// manager: edge/web only passes the typed URL through web.Cameras) and the
// daemon at start (a hand edit, after the outside-edit check, rewritten
// and recorded as the device's own write, audited
// "camera.credential_sealed") move an inline password there; a coverage
// proposal carries a new password sealed. The full URL exists only in
// memory, handed to the pipeline when a camera starts; a camera whose item
// is missing or does not open is refused (health, log, audit
// "camera.refuse") and the others record.
package main
