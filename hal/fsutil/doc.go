// Package fsutil owns the one atomic file write of the hal and storage
// layers (and of edge and cmd/edgerec, which may import hal): data goes to
// a temporary file in the target's directory, which is chmod-ed, written
// and fsync-ed, then renamed over the target (WriteFile) or hard-linked to
// it (CreateFile: never replaces an existing file, so a concurrent creator
// wins and the loser gets fs.ErrExist), and the directory is fsync-ed.
//
// Invariants: a power cut leaves either the old file or the new one, never
// a torn one; the temporary file never outlives the call (it is removed on
// every path); the target is never visible with a mode other than the one
// asked for. policy/ may not import hal (README design §3) and keeps its
// own copy in policy/devkey.
//
// It imports nothing from edge, storage or policy (README design §3).
package fsutil
