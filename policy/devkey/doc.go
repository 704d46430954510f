// Package devkey owns the device signing key: an ed25519 key pair created
// once at provisioning and used to sign audit checkpoints and head seals
// (policy/audit), and by the composition root for export manifests and wipe
// certificates (README design §5, R17, R25).
//
// Files, in the data directory (next to storage's index.db and keys/, which
// this package never touches):
//
//	device.ed25519      private key, PKCS#8 PEM, mode 0600
//	device.ed25519.pub  public key, PKIX PEM, mode 0644
//
// Create writes both atomically (temp file, fsync, rename, fsync dir) and
// refuses to overwrite either. The public key should also be recorded off
// the device at provisioning (it is printed by Fingerprint): a verifier that
// pins it detects an attacker who replaces both files and re-signs.
package devkey
