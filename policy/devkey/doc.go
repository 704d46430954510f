// Package devkey owns the device signing key: an ed25519 key pair created
// once at provisioning and used to sign audit checkpoints and head seals
// (policy/audit), and by the composition root for export manifests and wipe
// certificates (README design §5, R17, R25).
//
// Files, in the data directory (next to storage's index.db and keys/, which
// this package never touches):
//
//	device.ed25519      private key: its 32-byte seed sealed under the
//	                    device vault (Sealer, name "devkey/ed25519"), 0600
//	device.ed25519.pub  public key, one line "ed25519 <base64>", 0644
//
// Sealed (issue 13, R32): a copy of the card without the board's root key
// (TPM, OTP) yields no signing key, so nobody can forge audit seals, export
// manifests or wipe certificates from a stolen card; a key file copied onto
// another device does not open there (ErrWrongVault). Neither file holds a
// PEM block. The public key is not secret and needs no vault: `edgerec
// check` and verifiers read it.
//
// Create writes both atomically (temp file, fsync, link, fsync dir) and
// refuses to overwrite either. A device provisioned before keys were sealed
// has PEM files: the first Load with the vault seals the private key in
// place (the old file's bytes are overwritten, best effort on flash) and
// rewrites the public key file; LoadPublic reads either form. The public
// key should also be recorded off the device at provisioning (it is printed
// by Fingerprint): a verifier that pins it detects an attacker who replaces
// both files and re-signs.
package devkey
