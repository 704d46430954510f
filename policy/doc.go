// Package policy holds the rules of the product and the store of people and
// permissions. It imports nothing from edge, hal or storage and never
// net/http (DESIGN.md §3; cmd/edgerec's layering test and this package's
// TestLayeringPolicy check it).
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
//	devkey    the device ed25519 signing key
//
// This package composes them into Store, one bbolt file <data>/policy.db
// (buckets users, usernames, grants, meta, audit, audit.ckpt, audit.meta).
// Every state change and its audit record commit in one bbolt transaction,
// so a crash leaves either both or neither, and refused input writes
// nothing. Times come from the injected clock (Deps.Now), logs go to the
// injected slog.Logger and never carry passwords or hashes.
//
// Files in the data directory: policy.db (0600), device.ed25519 (0600,
// PKCS#8 PEM) and device.ed25519.pub (0644). Provision creates them; Open
// needs them; VerifyDir opens policy.db read-only for `edgerec check`.
//
// Entry points for other layers:
//
//	provisioning  Provision(ctx, dataDir) → device public key
//	daemon        Open(ctx, Config, Deps); Close; DisableStale daily
//	LAN page      Bootstrap, Authenticate, Allowed/Check, CreateUser,
//	              SetPassword, SetTraining, SetDisabled, Request, Approve,
//	              Deny, Revoke, UseGrant, Grant(s), Users, Review, Audit,
//	              UseCoverage/RefuseCoverage (camera manager, coverage.go),
//	              AuditAfter, VerifyAudit
//	uplink        Head() (seq, hash); AuditAfter(ctx, seq, max)
//	check         VerifyDir(ctx, dataDir, pinnedPub or nil) → audit.Report
package policy
