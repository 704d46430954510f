// Package storage is the recording store of edgerec (D4, D5, R5–R9): an
// encrypted ring buffer of H.264 segments on the gateway's disk with a bbolt
// index, crash recovery, retention by cryptographic erase, legal holds and an
// integrity check. It imports no edge/ or policy/ package; it uses
// hal/blockdev for the wipe's discards (README design §3).
//
// # Parts
//
//	seal   chunked AEAD (per-segment key, nonce = chunk index, clear header as AAD)
//	keys   root key → epoch keys (camera × UTC day) → segment keys; crypto-erase
//	ring   preallocated file or partition: header | hold area | circular log
//	index  bbolt + msgp records: segments, open set, log head, epochs, holds
//
// # Data directory
//
//	<dir>/root.key        device root key (file provider), 0600
//	<dir>/ring            the ring (or ProvisionOptions.RingPath, e.g. a partition;
//	                      then <dir>/ring is a symlink to it)
//	<dir>/index.db        bbolt index, 0600
//	<dir>/keys/epochs/    one wrapped key file per (camera, UTC day, generation)
//	<dir>/keys/holds/     one wrapped key file per legal hold
//
// # Write path
//
// A SegmentWriter packs frames into a chunk (a keyframe always starts a new
// chunk, so the keyframe index can point at chunk starts). A chunk is sealed
// when it is full, when a keyframe arrives, when the segment is closed (last
// flag), and by the flusher every FlushInterval. Sealing reserves the next log
// position (LSN) under the store lock, so all writers share one sequential
// head; the LSN is in the chunk header and therefore authenticated. The
// flusher writes each batch with one sequential write per lap, fdatasyncs,
// and only then commits the index rows that describe it.
//
// # Invariants
//
//  1. An index row describes only synced bytes. A segment row is created at
//     BeginSegment with zero chunks (its wrapped key is durable before any of
//     its chunks is written); chunk counts, runs, the keyframe index, End and
//     the log head (Head.LSN) are advanced in the same bbolt transaction,
//     committed after the ring bytes they describe were fdatasync'ed.
//  2. A region of the log is overwritten only after the rows of every segment
//     with bytes there are gone: before writing a batch that ends at LSN e,
//     the flusher removes (or, for held segments, first copies to the hold
//     area, syncs, and repoints) every segment whose first chunk lies below
//     e − DataSize, and commits that transaction; only then does it publish
//     the new tail and write.
//  3. A (segment key, chunk index) pair is sealed at most once: segment ids
//     are never reused, and a segment interrupted by a crash is closed by
//     recovery, never appended to.
//  4. Nothing unauthenticated is returned: every frame handed to a reader
//     comes from a chunk that opened under its segment key with the expected
//     segment id, chunk index and LSN in its authenticated header; a closed
//     segment must end with an authenticated last flag unless recovery closed
//     it (then the index's chunk count, which only counts synced and
//     authenticated chunks, is the end).
//  5. Retention destroys an epoch key before it drops the rows that use it,
//     and never destroys the key of an epoch with an open segment. Held
//     segments keep a second wrap of their key under the hold's key, so
//     retention does not make them unreadable; releasing the hold destroys
//     the hold key.
//  6. Nothing is "repaired" by discarding data: a store whose ring header,
//     root key, index or key files cannot be read refuses to open for
//     recording; damage found by Check is reported, never deleted.
//
// # Crash procedure (Open)
//
//  1. Read and validate the ring header (magic, version, CRC, sizes); load
//     the root key and compare its key check value in constant time.
//  2. Open bbolt; check its schema version and that it belongs to this ring.
//  3. Load every open segment row and unwrap its key.
//  4. Scan the log from Head.LSN: at each position read a chunk header; stop
//     at the first header that does not parse or names another LSN (stale
//     bytes from an earlier lap or a torn write). Follow pad records to the
//     next lap. A chunk of an open segment must carry that segment's next
//     chunk index and authenticate; the first one that does not ends the
//     scan. A well-formed chunk of an unknown segment (its row was evicted
//     while open) is skipped, never decrypted or indexed.
//  5. In one transaction: extend the open rows with the chunks found, close
//     every open segment there (Recovered = true when its last chunk has no
//     last flag), delete open rows that have no chunk at all, and set
//     Head.LSN to where the scan stopped.
//
// Loss bound: bytes handed to WriteFrame are sealed and queued within one
// FlushInterval (or sooner when a chunk fills) and written by the next flush,
// so a process kill loses at most the frames of the last FlushInterval plus
// the frames of one unsealed chunk (plus the duration of the flush in flight);
// a power cut additionally loses what the kernel had not written back since
// the last fdatasync, which is bounded the same way because the flusher
// syncs every batch.
package storage
