// Command edgerec is the edge recorder: one static binary with the
// subcommands of README design §5. This package is the composition root: it is
// the only place that imports every other package and wires them together.
// It holds flag parsing, wiring and printing, no procedure of its own
// (issue 15): provisioning is edge/provision, key providers
// storage/keyprov, exports edge/export (Signed, SignedFile, Backup), the
// export runner edge/export/jobs, decommission edge/export/decommission
// (the CLI and the daemon run the same procedure), the cameras
// edge/cameras, retention edge/retention, the audit pump and the security
// relay edge/uplink, the front panel edge/health, a start without the
// root key edge/keyfault.
//
// The root key provider (issue 13, storage/keyprov, edge/keyfault) is
// reported everywhere from the one health view: the log at start, the
// health API (key_provider), the dashboard and the beacon (kp). The file
// provider is a standing SevWarning alert keys.on_disk with the sentence
// storage.FileProviderWarning. A root key that cannot be had from the
// provider the ring header records (no TPM, another TPM, lockout, PCR
// mismatch, OTP empty, mailbox refused, or a configured provider that
// differs) never falls back: `run` writes exactly one ERROR line naming the
// provider and the cause, notes the refusal in <data>/keys-unavailable
// (the only file it writes; nothing can be audited or sent then, as the
// policy and uplink secrets are sealed under the same root), shows the
// fault pattern on the status LED for two minutes if one is wired, and
// exits 1. The next start that has the key audits the refusals
// ("keys.unavailable"), sends them upstream as one keys.unavailable event
// (provider, count, first and last time) and removes the record.
//
// The cameras (their config, persistence with the record of the device's
// own writes (R16), sealed camera passwords (R32), coverage changes that
// wait for approval (R27), pipeline + recorder per camera) are
// edge/cameras.Manager; run only constructs it and hands it to the LAN
// page and the live view.
package main
