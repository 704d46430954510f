// Package export turns recorded footage into an evidence package (R17): an
// MP4 of exactly the requested range, masked as recorded, and a signed
// manifest that anyone can verify offline; and it owns the signed-document
// format that the wipe certificate (R25) and the device state backup (R26,
// Backup) share with the manifest. Signed is the one signed export (the
// daemon's runner and, through SignedFile, `edgerec export`).
//
// # MP4
//
// Fragmented MP4, written by edge/export/fmp4 (the device's one muxer;
// playback on the LAN page uses it too, so a range played back and
// exported has the same sample timing): an init segment (timescale
// 90 kHz, avc1 with the first keyframe's SPS/PPS) and one fragment per GOP,
// capped at MaxFragmentFrames. The file starts at the keyframe at or
// before From (storage.ReadFrames) and ends with the last frame before To.
// Sample times are Frame.Time relative to the first frame at 90 kHz,
// rounded once per frame so durations never drift; the last frame lasts
// one frame interval, clipped at To. A gap in the footage shows as the
// frame before it lasting until the footage resumes, so the timeline of
// the file is the wall-clock timeline (the manifest lists the covered
// spans). The access units are copied byte for byte (AUD NAL units
// dropped, in-band SPS/PPS kept): nothing is decoded or re-encoded, so the
// masks burned in before recording (R2, D3) are exactly what the file
// shows.
//
// The MP4 is written strictly sequentially to a plain io.Writer, so a
// caller can seal it on the way to disk: the daemon's export runner
// (edge/export/jobs) writes it through a storage/seal sealed stream under
// a per-export key held only in memory, so an export never sits in the
// data directory in the clear (issue 13, R17). The manifest holds no
// footage (names, grant, range, hashes, the video format such as
// "avc1.42c01e", not the SPS) and is stored as it is.
//
// # One way from a grant to a file
//
// Signed is the only way the device turns an export grant into a file;
// `edgerec export` and the daemon's runner both call it with the policy
// store: the grant check (UseGrant: the exporter's own approved,
// unexpired grant covering camera and range; audited) runs before a byte
// is read; the export itself is audited ("export", the file's SHA-256) and
// the manifest cites that record's sequence (AuditSeq), names the
// requester, every approver joined with ", ", and the exporter, and is
// signed with the device key. A refusal is audited too.
//
// Decommission (R25), the other signed document's procedure, is in
// edge/export/decommission, used by the CLI and the daemon alike.
//
// # Authorization
//
// The package does not know users or grants. Export calls the caller's
// Authorizer (policy's grant check) with the grant, camera and range before
// it reads or writes a byte, and refuses an inverted range or one without
// footage before writing anything as well.
//
// # Signed documents
//
// A signed document is one line of compact JSON:
//
//	{"kind":"edgerec.export-manifest/v1","payload":{…},"public_key":"<base64>","signature":"<base64>"}
//
// The ed25519 signature covers "edgerec-signed-doc/v1\n" + kind + "\n" +
// the payload bytes exactly as they appear. OpenDoc accepts only the exact
// bytes SignDoc produced (it re-encodes and compares), so any changed byte,
// even outside the payload, fails; the payload must name the same device
// key as the envelope; an optional pinned key (the device's known public
// key, e.g. from the provisioning record) rejects a document re-signed by
// another device. Kinds: KindManifest (this package's Manifest) and
// KindWipeCertificate (WipeCertificate, built from storage.WipeReport).
// VerifyFile is what `edgerec verify FILE` calls: it detects the kind.
package export
