// Package codec owns H.264 encoding and decoding on the device.
//
// Both directions use the static libopenh264 that
// github.com/pion/mediadevices ships for linux amd64, arm64 and armv7
// (imported only to put that archive on the link line), through small cgo
// bindings in this package: encoder.c (WelsCreateSVCEncoder) and decoder.c
// (WelsCreateDecoder). The openh264 headers in include/ are Cisco's BSD-2
// licensed headers of the same release (2.1.1), see
// include/openh264/LICENSE. The encoder reads the masked picture's planes in
// place (no copy into an image.Image as mediadevices' wrapper did).
//
// The encoder accepts only mask.Masked pictures, so an unmasked frame can
// never be encoded by mistake (R2, D3). The package also holds the small
// Annex-B/NAL helpers the rest of the video path needs.
//
// # Masks and the encoder (issue 14)
//
// edge/mask grows every mask to whole 16×16 macroblocks, so no macroblock
// and no transform block straddles a mask edge. What openh264 2.1.1 lets a
// caller control, checked against its C API (codec_api.h,
// codec_app_def.h):
//
//   - No region of interest, no per-macroblock QP, no forced macroblock
//     mode. The only QP control is iMinQp/iMaxQp for the whole picture; in
//     RC_BITRATE_MODE the encoder clamps them to 12..42 anyway ("Change QP
//     Range from(0,51) to (12,42)"), and on fresh noise it sits at 42 at
//     300 kbit/s and at 4 Mbit/s alike.
//   - mediadevices' wrapper exposes only usage type, rate-control mode,
//     frame skip, NAL size, intra period, threads and slicing; it keeps
//     openh264's defaults for the rest: LOW_COMPLEXITY, background
//     detection on, adaptive quantization on, deblocking on. That is why
//     this package has its own binding.
//   - Measured on a synthetic clip (640×360, fresh noise + 2 px text, a flat
//     macroblock-aligned 144×144 fill, 16 px pixelation cells, 45 pictures,
//     decoded by ffmpeg), pixels > 4 off the fill at ≥ 4 px inside:
//     defaults 5558; background detection off 1635; + MEDIUM or HIGH
//     complexity 162 (worst |ΔY| 5); adaptive quantization makes no
//     difference; deblocking off 360 (worse: without it the unmasked
//     neighbour's blocking reaches further), so it stays on. Background
//     detection marks a macroblock as static and keeps skipping it, so an
//     error coded into a keyframe stays for the whole GOP; low complexity
//     leaves out the intra modes that reproduce a flat block exactly.
//     HIGH took 285 ms against MEDIUM's 194 ms for the 45 pictures (one
//     run) with the same result, so the encoder runs MEDIUM_COMPLEXITY
//     without background detection.
//   - Deblocking changes at most 3 px on each side of a macroblock edge, so
//     at ≥ 4 px inside a polygon (which is inside the grown area) it cannot
//     reach the measured pixels. What remains is motion compensation: in P
//     pictures a macroblock at the grown area's border may be skipped or
//     predicted from a reference shifted by the neighbour's motion, which
//     pulls a few pixels of the unmasked neighbour (not of the hidden
//     picture: that was replaced before encoding) a few pixels into the
//     area. edge/pipeline's TestR2MasksExactOnMacroblockGrid measures it:
//     0 for a rectangle and a thin band, 11–12 pixel-pictures at an acute
//     triangle tip (4–9 px inside), against 80–16460 before. Pixelation
//     cells are flat before encoding; at QP 42 openh264 codes them with a
//     cell standard deviation of median 2.1–2.2 and worst 8–11 (before:
//     3.0 and 90). Closing that gap needs per-macroblock QP or mode control,
//     which openh264's public API does not have (x264's --qpfile/zones or a
//     patched openh264 would).
package codec
