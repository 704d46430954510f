// Package policy holds the rules of the product and the store of people and
// permissions. It imports nothing from edge, hal or storage and never
// net/http (README design §3; cmd/edgerec's layering test checks it).
//
// Subpackages, each owning one thing:
//
//	rules     zones (R1) and retention floor/ceiling (R6); pure
//	perm      roles × permissions matrix (R11), rendered to PERMISSIONS.md
//	password  argon2id hashes in the PHC form edge/web also writes
//	users     the account record (R14, R15, R22 lockout fields)
//	grants    request → approve → issue → revoke state machine (R12, R13,
//	          coverage changes R27)
//	review    permission review report and stale accounts (R14)
//	audit     hash-chained, signed audit log (R16)
//	devkey    the device ed25519 signing key (sealed under the vault)
//	sealtest  an in-memory AEAD sealer standing in for the vault in tests
//
// This package composes them into Store, one bbolt file <data>/policy.db
// (buckets users, usernames, grants, meta, audit, audit.ckpt, audit.meta).
// Every state change and its audit record commit in one bbolt transaction,
// so a crash leaves either both or neither, and refused input writes
// nothing. Times come from the injected clock (Deps.Now), logs go to the
// injected slog.Logger and never carry passwords or hashes.
//
// # The single-person invariant (R11, R12, R13, R32; issue 12)
//
// No single account, and no person holding only the admin's password and
// the config file, can cause one decoded pixel of recorded footage to be
// shown or exported, or any account to gain a video permission (or the
// approver role, the step to one), without an independent second person
// who held an approver role before the request was filed. How it holds:
//
//   - Footage needs a grant approved by an approver who is neither the
//     requester nor (role assignments) the subject, and whose approver role
//     was issued before the request was created (checkSeniority).
//   - Roles come only through the same flow. The first-approver exception
//     (an admin appoints the first approver alone) happens once in the
//     device's life: recorded in the meta bucket ("bootstrap.approver"),
//     audited, announced upstream (SecBootstrapUsed); a second attempt —
//     for example after the admin disabled or revoked every approver — is
//     refused and announced (SecBootstrapRefused).
//   - A password someone else set is one-time: accounts created by an
//     admin and accounts whose password an admin reset carry MustChange and
//     may do nothing but change it (ErrMustChange). A reset also revokes the
//     account's role assignment and its pending or active footage grants
//     (approved legal holds stay), so knowing the one-time password gives
//     the resetter an account with no role; a role comes back only through
//     an approver. Resets, disabling approvers or video roles, role
//     revocations and refused self-approvals are announced upstream
//     (Deps.Security → uplink events) so ops see attempts, failed or not.
//   - Playback and export need a training date for every role (R15), not
//     only operators; installers aim with live view and need none.
//   - Legal holds outlive their grant and are released by an approver who
//     did not request them (ReleaseHold), also after the grant expired (R8).
//
// TestR11AdversaryProperty plays random sequences of an admin with puppet
// accounts (create, reset, disable, request, approve as every controlled
// account, revoke, train, time passing, the known attacks as single moves)
// and checks after every step that no controlled account holds a video
// permission or grants.approve and that no account gained one.
//
// Files in the data directory: policy.db (0600), device.ed25519 (0600,
// sealed) and device.ed25519.pub (0644, one line of text). Provision
// creates them; Open needs them and the vault; VerifyDir opens policy.db
// read-only for `edgerec check` and needs only the public key.
//
// # Sealed secrets (issue 13, R32, R20)
//
// A stolen SD card must yield nothing usable. The device vault (Sealer,
// storage/keys.Vault passed in by cmd/edgerec as Deps.Sealer and to
// Provision; both required) seals, under the board's root key:
//
//   - the device signing key (policy/devkey, vault name "devkey/ed25519"):
//     whoever held it could forge audit seals, export manifests and wipe
//     certificates;
//   - every password hash, field by field (users.User.Hash holds the
//     argon2id PHC string sealed for "user/<user-id>/hash"): an argon2id
//     hash is an offline guessing target, and one-time passwords an admin
//     set are weak by nature. The name binds a hash to its account, so a
//     sealed hash written into another account's row does not open
//     (Authenticate refuses, ErrBadCredentials, audited with the reason).
//
// policy.db keeps no other credential or session material: setup codes and
// LAN sessions belong to edge/web; grants, roles and the audit log are not
// secrets (they are evidence, readable by auditors), so they stay plain.
// The meta bucket holds a check value sealed for "user/policy.db": Open
// refuses a policy.db sealed under another device's vault (copied) with
// ErrWrongVault instead of refusing every login silently. A database from
// before sealing (no check value) is sealed on its first writable Open:
// plain hashes are sealed, the step is audited ("policy.seal"), and the
// file is compacted so no free page keeps an old hash; a PEM device key is
// sealed in place by devkey.Load the same way.
//
// Entry points for other layers:
//
//	provisioning  Provision(ctx, dataDir, vault) → device public key
//	daemon        Open(ctx, Config, Deps); Close; DisableStale daily
//	LAN page      Bootstrap, Authenticate, Allowed/Check, CreateUser,
//	              SetPassword, SetTraining, SetDisabled, Request, Approve,
//	              Deny, Revoke, ReleaseHold, UseGrant, Grant(s), Users, Review, Audit,
//	              UseCoverage/RefuseCoverage (edge/cameras, coverage.go),
//	              UseUpdate (edge/update: an approved system update, issue 16),
//	              AuditAfter, VerifyAudit
//	uplink        Head() (seq, hash); AuditAfter(ctx, seq, max)
//	check         VerifyDir(ctx, dataDir, pinnedPub or nil) → audit.Report
package policy
