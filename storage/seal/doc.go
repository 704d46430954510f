// Package seal owns the sealed chunk format of the recording ring: a small
// clear header followed by an AEAD ciphertext.
//
// Every chunk is sealed under a per-segment random key. The nonce is the
// chunk index (little-endian, zero padded to the AEAD's nonce size), so a
// key is never used twice with the same nonce as long as a chunk index is
// written only once per segment (the store never appends to a segment that
// was interrupted by a crash: recovery closes it instead). The clear header
// (magic, version, flags with the last-chunk and pad bits, segment id, chunk
// index, ciphertext length, log position) is the associated data, so:
//
//   - a bit flip anywhere in the header or ciphertext fails authentication;
//   - moving a chunk to another index or another segment (reordering,
//     splicing) fails, because the nonce or the associated data differs;
//   - truncation is visible: a closed segment must end with a chunk whose
//     last flag authenticates, and chunk indexes must be consecutive.
//
// Two AEADs are supported: AES-256-GCM (CPUs with AES instructions, e.g.
// Pi 5) and XChaCha20-Poly1305 (CPUs without, e.g. Pi 4). The choice is made
// at provisioning and recorded in the ring header; the package only maps the
// recorded identifier to an implementation.
//
// The header carries a CRC-32C of its own bytes. It is not a security
// measure (the AEAD is); it only lets the recovery scanner tell a stale or
// torn header from a real one without a key.
//
// # Sealed streams
//
// StreamWriter and StreamReader use the same chunk format for one byte
// stream under one key used for nothing else (an export's MP4 under a
// random per-export key held only in memory): chunks 0, 1, 2, … of one
// segment, the final one flagged last. The reader returns a chunk's bytes
// only after it authenticated, and any changed, moved, missing or extra
// byte, a stream cut short or extended after its last chunk, or the wrong
// key is an error matching ErrAuth.
package seal
