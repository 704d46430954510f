// Package decommission is the one decommission procedure of the device
// (R25), next to the wipe certificate it issues (edge/export): the LAN
// wizard in the daemon (grant or wipe button) and `edgerec decommission`
// (grant) both run it. The caller owns the trigger: it has checked and
// audited the decommission grant (policy UseGrant), or the button and the
// admin's confirmation, before calling Run.
//
// # Steps (in this order)
//
//  1. the device's signing key is loaded (it opens under the vault, which
//     the wipe destroys); nothing has changed if this fails;
//  2. the decommission is audited (action "decommission"): the
//     certificate's AuditSeq and AuditHead are that record's sequence and
//     chain hash, so the audit log proves the chain up to the wipe;
//  3. Deps.Stop stops what uses the store (the daemon: recording, the
//     maintenance loops; then the store is closed);
//  4. storage.Wipe: root key first, epoch keys, ring headers, optional
//     overwrite passes, discard;
//  5. the certificate (trigger "grant" with the admin and every approver
//     joined with ", ", or "button" with the confirming admin) is signed
//     and written (<data>/wipe-certificate.json unless Config.CertPath);
//  6. Deps.Send delivers it upstream, best effort.
//
// RemoveSecrets then removes what is left of the device's identity
// (Config.Secrets: users and audit db, TLS, uplink files, config, …, and
// last the signing key), each file overwritten before it is unlinked; the
// caller calls it once its own files are closed (the CLI at once, the
// daemon on exit). A Decommissioner runs at most once.
package decommission
