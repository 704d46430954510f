package storage

import "errors"

// Sentinel errors, always wrapped with %w and context; match with errors.Is.
var (
	// ErrExists: Provision refuses to run over an existing store.
	ErrExists = errors.New("storage: a store already exists")
	// ErrNotProvisioned: the directory holds no (complete) store.
	ErrNotProvisioned = errors.New("storage: not provisioned")
	// ErrCorrupt: the ring header, index, a key file or a record cannot be
	// read or is inconsistent.
	ErrCorrupt = errors.New("storage: corrupt")
	// ErrTampered: a sealed chunk failed authentication or the chunk
	// sequence was changed (reordered, spliced, truncated).
	ErrTampered = errors.New("storage: tampered")
	// ErrKeyErased: the footage's key was destroyed (retention or wipe).
	ErrKeyErased = errors.New("storage: key erased")
	// ErrClosed: the store or writer is closed.
	ErrClosed = errors.New("storage: closed")

	// ErrWrongKey: the root key does not belong to this store.
	ErrWrongKey = errors.New("storage: wrong root key")
	// ErrTooSmall: the ring is too small (the message names the minimum).
	ErrTooSmall = errors.New("storage: ring too small")
	// ErrBusy: the camera already has an open SegmentWriter.
	ErrBusy = errors.New("storage: camera already recording")
	// ErrInvalid: a caller error (first frame not a keyframe, time going
	// backwards, frame too large, bad range).
	ErrInvalid = errors.New("storage: invalid argument")
	// ErrEvicted: the ring overwrote the start of a segment that was still
	// open (the segment is longer than the ring can hold); begin a new one.
	ErrEvicted = errors.New("storage: open segment overwritten by the ring")
	// ErrNotFound: no such segment or hold.
	ErrNotFound = errors.New("storage: not found")
	// ErrHoldFull: the hold area cannot take the held segments.
	ErrHoldFull = errors.New("storage: hold area full")
	// ErrHoldRef: the reference (grant) given does not match the hold.
	ErrHoldRef = errors.New("storage: hold reference does not match")
	// ErrIO: the store stopped after an I/O error; it refuses further
	// writes rather than risk overwriting what it cannot read.
	ErrIO = errors.New("storage: I/O error")
)
