// Package jobs runs the exports that the LAN page starts (R17): one at a
// time per device, in the background, with progress, each one made by
// export.Signed (the grant checked again and audited by the policy store,
// the manifest naming every approver and citing the export's own audit
// record).
//
// # Invariants
//
//   - An export's MP4 never sits in the data directory in the clear: it is
//     written to <dir>/<id>.mp4.sealed as a sealed stream (storage/seal)
//     under a random key made for this export and held only in the
//     runner's memory; a download streams it decrypted. The signed
//     manifest (<id>.manifest.json) holds no footage and stays in the
//     clear.
//   - A finished export is kept for Config.Keep (1 h); then, at Close, or
//     when its file fails the integrity check, its key is destroyed first
//     (that alone makes the file unreadable), then the files are unlinked.
//   - A download authenticates the whole sealed file before the first byte
//     is sent (a changed file is refused with one clear error and erased)
//     and stops as soon as the key is destroyed.
//   - A job record <id>.job.json (ids, camera, range, who, when: no
//     footage, no key) lets the next start list an export that a restart
//     made unreadable as expired, with the reason; New then deletes
//     everything in the directory. Ended exports stay listed for
//     Config.Forget (24 h).
//
// The runner knows no HTTP: cmd/edgerec adapts it to web.Exports.
package jobs
