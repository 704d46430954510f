// Package grants owns the request → approve → issue → revoke state machine
// of R12 (playback, export, legal hold, decommission), R13 (role
// assignments, action "role") and R27 (coverage changes, action
// "coverage", coverage.go), as pure functions on a Grant record
// (msgp-generated, records.go). It does no I/O; the policy store persists
// grants in bbolt and writes the audit record in the same transaction.
//
// Rules:
//
//   - A request names its action, purpose, validity and scope: one or more
//     cameras and a bounded time range (from < to, both set, at most
//     Limits.MaxRange) for footage; subject, role and optional camera scope
//     for a role; nothing for decommission; for a coverage change exactly
//     one camera, the kind (remove, mask_reduce, zone_change,
//     source_change, retention_reduce) and the SHA-256 of the exact
//     proposal, requested by a role that may make the change itself
//     (cameras.manage for remove, zone and source, masks.manage for masks,
//     config.change for a shorter retention, issue 18). The requester's role must be
//     allowed to hold such a grant (perm.Grant cell) or, for roles, to
//     manage users. Validity must be positive and at most
//     Limits.MaxValidity (RoleMaxValidity for roles).
//   - Four eyes: only a user whose role allows grants.approve, who is not
//     the requester (and not the subject of a role assignment), approves or
//     denies. One such approval issues the grant: Issued = now, Expires =
//     now + Validity. Decommission needs an admin and an approver: only an
//     admin may request it and an approver approves it.
//   - A request undecided after Limits.RequestTTL lapses; approving it is an
//     error (ErrRequestExpired).
//   - A grant expires by itself (State derives Expired from the clock) and
//     can be revoked with a reason, by the requester or a role with
//     grants.revoke. Denied, revoked, lapsed and expired are final.
//   - CheckUse allows a use only for the requester, while active, for the
//     same action, a camera in scope and a range inside the granted one.
//   - CheckApply allows a coverage grant to be applied once, while active,
//     for exactly its digest (by whoever triggers it: the approver's
//     approval or the device at start).
//
// The one exception to four eyes is ApproveBootstrap: on a device with no
// active approver, an admin may issue the approver role to another user on
// their own approval (recorded as such in the approval and the audit log);
// without it the first approver could never be appointed.
//
// Grant ids are opaque strings "g-" + 20 hex digits; storage refers to
// holds by them.
package grants
