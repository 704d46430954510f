// Package update owns whole-system A/B updates of the gateway (issue 16,
// D1, R21): RAUC bundles, verified here in Go, written to the inactive
// root slot, tried once under boot counting and kept only when edgerec
// reports healthy.
//
// Bundle format: RAUC's "plain" format, exactly as `rauc bundle` (1.8)
// writes it: a squashfs image holding manifest.raucm and the slot images,
// then a detached CMS (PKCS#7) signature over the squashfs bytes (DER),
// then the signature's length as a big-endian uint64. Verify checks the
// signature against the vendor keyring (a PEM file of CA certificates on
// the read-only root, /etc/edgerec/update-ca.pem), streaming the content
// through SHA-256 (never all of it in memory); the manifest is read from
// the squashfs (mounted read-only through a loop device, bounded to the
// signed bytes) and every image is hashed while it is copied to the
// inactive slot and compared with the manifest's sha256 before the slot is
// made primary. Why Go rather than the rauc binary on the gateway:
// buildroot/README.md ("Updates").
//
// Slots and boot counting: a custom bootloader backend with RAUC's
// interface (get-primary, set-primary, get-state, set-state, get-current),
// /usr/libexec/edgerec/boot-chooser, keeps the state on the boot
// partition; the initramfs reads it before mounting the root. set-primary
// of the other slot starts a trial: the next boots go to it while its tries
// last, then back to the old slot. Run marks the trial slot good once the
// store has sealed a segment (Deps.Healthy); until then the supervisor
// reboots a crash-looping trial (supervise). The old slot is untouched.
//
// Authorization (R21): an update is installed only from a bundle a
// technician uploaded on the LAN page (Stage) and only under an approved
// "update" grant for exactly that bundle's digest (Apply consumes it once,
// audited by the policy store); there is no remote command. Refusals
// (unsigned, wrongly signed, truncated, wrong compatible) change nothing:
// the uploaded file is deleted and the slots are not touched.
package update
