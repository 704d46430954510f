// Package keys owns the key hierarchy of the recording store and its
// cryptographic erase.
//
// # Hierarchy
//
//	root key (RootProvider: a 0600 file today, a TPM 2.0 object later)
//	 └─ KEK = HMAC-SHA256(root, "edgerec/v1/kek")
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
// Adversary: someone who obtains the gateway or its storage medium (SD card,
// eMMC, SSD) after footage has expired or after a wipe, and reads it with the
// file system, with the raw block device, or (the strongest) by desoldering
// the flash and reading the NAND chips directly ("chip-off").
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
//   - Wipe (R25) destroys the root key first, then every epoch and hold key
//     file. Without the root key the KEK is gone, so every wrapped epoch and
//     hold key is noise even if a copy survives.
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
//     destruction on flash is best effort against chip-off and we say so.
//   - Memory: keys live in Go memory while the store is open; Close and
//     erase clear the slices we own, but Go may have copied them (GC, stack
//     growth); a memory-dump attacker on a running device is out of scope.
//
// Key material is never logged. Key files and the root key file are 0600 in
// 0700 directories and are written atomically (temp file, fsync, link,
// fsync dir); a key file is never replaced in place.
package keys
