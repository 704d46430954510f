// Package keys owns the key hierarchy of the recording store and its
// cryptographic erase.
//
// # Hierarchy
//
//	root key (from the provider recorded in the ring header, issue 13:
//	│         tpm2 — sealed in a TPM 2.0 (hal/tpm); rpi-otp — wrapped
//	│         under the Raspberry Pi OTP device key (hal/rpiotp); file — a
//	│         0600 file, demo and development only)
//	 └─ KEK = HMAC-SHA256(root, "edgerec/v1/kek")
//	     ├─ vault key (keys/vault.key): seals the secrets at rest (Vault):
//	     │   device signing key, TLS and uplink keys, camera credentials,
//	     │   password hashes; a sealed value is bound to its purpose name
//	     ├─ epoch key, one per camera per UTC day (+ generation),
//	     │   each wrapped in its own file keys/epochs/<hmac(camera)>-<day>-<gen>.key
//	     │    └─ segment key (random per segment), wrapped by the epoch key and
//	     │       kept in the segment's bbolt index row
//	     └─ hold key, one per legal hold, in keys/holds/<id>.key
//	          └─ the segment keys of the held segments, wrapped again by the
//	             hold key and kept in the bbolt hold rows
//
// Wrapping is XChaCha20-Poly1305 with a random nonce and associated data that
// names the use (segment id, epoch, hold id), so a wrapped key cannot be moved
// to another row. The ring header holds a key check value
// HMAC(root, "kcv/"+ring id), compared in constant time, so a wrong root key
// is refused before anything is read or written.
//
// # Threat model
//
// Adversary 1, the thief with the card (R32): someone who pulls the SD card
// (or SSD) out of a running branch-office gateway, or images it, and reads
// it elsewhere. With the tpm2 or rpi-otp provider the medium holds no key
// that opens anything: the root key is in the TPM (the data dir keeps only
// a descriptor naming the sealed object) or wrapped under a key burnt into
// the SoC's OTP; every other key and secret is wrapped or sealed under it.
// So the ring, the key files, the vault's sealed values (camera passwords,
// TLS/uplink/device keys, password hashes) and exports in progress
// (encrypted under a key held in memory) are noise without the board. The
// card put back into another gateway (another TPM or OTP) is refused with
// ErrKeyUnavailable and never falls back to a file key. With the file
// provider the card holds the root key: the device says so on the page, in
// health, beacons, `check` and the log ("keys on disk: not protected
// against theft of the disk").
//
// Not covered: the thief who takes the whole gateway while the key exists.
// The TPM (without PCR binding) or the OTP unseals to whoever runs code on
// that board: booting another OS from a new card with the old card attached
// yields the key. PCR binding (storage.tpm_pcrs with measured boot) narrows
// this for the TPM; the Raspberry Pi's OTP key is readable by any root
// process on the board (secure boot is what stops another OS). A memory
// dump of a running device is out of scope.
//
// Adversary 2, after expiry or a wipe: someone who obtains the gateway or
// its storage medium (SD card, eMMC, SSD) after footage has expired or after
// a wipe, and reads it with the file system, with the raw block device, or
// (the strongest) by desoldering the flash and reading the NAND chips
// directly ("chip-off").
//
// What we rely on is key destruction, never in-place overwrite of the
// footage. Flash translation layers (FTL) remap every write to a fresh
// physical page and leave the old page readable to chip-off until garbage
// collection erases it, at a time nobody controls; wear levelling keeps
// copies too. Overwriting the ring therefore guarantees nothing about the
// physical medium, and we do not pretend it does. Footage is unreadable once
// every key that can open it is gone:
//
//   - Retention (R6) destroys the epoch key files of expired (camera, day)
//     epochs and drops their index rows. Every segment key of that epoch was
//     only ever stored wrapped by the epoch key, so the ciphertext in the ring
//     and the wrapped segment keys (wherever copies survive) become noise.
//   - Wipe (R25) destroys the root key first — through its provider: the
//     TPM object is evicted (so even a byte-for-byte backup of the data dir
//     taken before the wipe opens nothing afterwards); the OTP key cannot be
//     erased, so the wrapped root file is destroyed and the certificate
//     says so — then the vault key and every epoch and hold key file.
//     Without the root key the KEK is gone, so every wrapped epoch and
//     hold key is noise even if a copy survives.
//   - Rekey (storage.Rekey) replaces the root: every key file is rewrapped
//     under the new root, the ring header's key check value is the commit
//     point, and the old root is destroyed through its provider.
//
// Where do copies of wrapped keys survive, and what does that mean?
//
//   - bbolt free pages: bbolt is copy-on-write; a deleted or updated row
//     stays in a free page of index.db until the page is reused. That is why
//     no epoch or hold key is ever stored in bbolt: the only key material in
//     index.db is segment keys wrapped by epoch keys (and by hold keys). A
//     stale copy in a free page is useless once its epoch key (and, for held
//     segments, the hold key) is destroyed. Deleting a segment row alone
//     (ring overwrite, or retention of part of a day) is therefore not a
//     cryptographic erase; the erase happens when the epoch key goes. The
//     epoch key of a day is destroyed once the whole day is older than the
//     retention age, so crypto-erase of a segment lags the removal of its
//     index row by at most one day (see storage.ApplyRetention).
//   - Key files: DestroyFile overwrites the file in place with random bytes,
//     fsyncs, unlinks and fsyncs the directory. Against a file-system reader
//     the key is gone. Against a reader of the raw block device, ext4 and
//     similar non-CoW file systems write the random bytes over the same
//     logical blocks, so the old bytes are gone at the block-device level
//     too. Against chip-off, the FTL may still hold the old physical page;
//     that residual risk is why a TPM (or another secure element whose
//     erase is physical) is the intended root key provider: with the root
//     key destroyed inside a TPM, all surviving copies of wrapped epoch keys
//     are noise regardless of what the flash keeps. With the file provider,
//     and with rpi-otp (the wrapped root file is on the same flash),
//     destruction on flash is best effort against chip-off and we say so.
//   - Memory: keys live in Go memory while the store is open; Close and
//     erase clear the slices we own, but Go may have copied them (GC, stack
//     growth); a memory-dump attacker on a running device is out of scope.
//
// Key material is never logged. Key files and the root key file are 0600 in
// 0700 directories and are written atomically (temp file, fsync, link,
// fsync dir); a key file is never replaced in place.
package keys
