// Package blockdev discards storage ranges for the secure wipe (R25, D5):
// BLKSECDISCARD, then BLKDISCARD, on a block device (an SD card, eMMC or
// SSD partition holding the ring) and fallocate(PUNCH_HOLE) on a regular
// file, which frees the file's blocks and, on a file system mounted with
// discard, passes the discard down to the device. BLKGETSIZE64 gives a
// device's size.
//
// A discard is a request to the flash translation layer, not a guarantee
// that the physical pages are erased (see storage/keys' threat model): the
// wipe relies on key destruction and treats discard as best effort. A
// medium, driver or file system that cannot discard is therefore reported
// as a Result with Supported false and a note saying why, never as an
// error; an error means the discard was attempted and failed in a way that
// needs attention (I/O error, bad file descriptor).
//
// storage's wipe is its user. It imports nothing from edge, storage or
// policy (README design §3).
package blockdev
