// Package ring owns the on-disk layout of the recording ring: a preallocated
// file (or a raw partition) with a fixed header, a hold area, and a data
// region used as a circular log of sealed chunks.
//
// Layout (all offsets 4 KiB aligned):
//
//	[0, 4096)                 ring header (clear; magic, version, cipher,
//	                          ring id, sizes, key check value, key
//	                          provider (version 2), CRC-32C)
//	[HoldOff, HoldOff+HoldSize) hold area: sealed chunks of held segments,
//	                          copied verbatim before the log overwrites them
//	[DataOff, DataOff+DataSize) data region: the circular log
//
// The log is addressed by log sequence number (LSN): the count of bytes ever
// appended. LSN l lives at DataOff + l mod DataSize. A chunk never straddles
// the end of the region: the writer pads to the next lap with a pad record
// (or, if fewer than a header's bytes remain, with nothing). Every chunk
// header carries the LSN it was written at, so a header left over from an
// earlier lap is recognised as stale by position alone.
//
// The key provider (file, tpm2, rpi-otp; issue 13) is recorded in the header
// so that opening a ring always asks the provider it was provisioned with and
// never falls back to another one. Version 1 headers (before providers) are
// read as the file provider; SetHeader rewrites the header for rekey.
//
// The package does no cryptography and keeps no index; it reads and writes
// bytes at the right places and syncs them.
package ring
