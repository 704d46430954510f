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
// The codec knows nothing of masks (issue 15): R2 is enforced where video
// becomes recordable, by edge/pipeline's Video type, which only the
// pipeline makes (from the encoding of a mask.Masked picture, or from the
// own stream of a camera without masks) and which the hub — the only way
// to the recorder and the live view — accepts. The package also holds the
// small Annex-B/NAL helpers the rest of the video path needs.
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
//     run) with the same result, so the encoder ran MEDIUM_COMPLEXITY
//     without background detection (now LOW for fill only, see "Cost").
//   - What remained after that was motion compensation and, for
//     pixelation, deblocking and prediction across cells. Measured with
//     edge/pipeline's TestR2MasksExactOnMacroblockGrid (640×360 and
//     1920×1080 noise behind a triangle, a thin band, a rectangle and a
//     pixelated pentagon, 300 kbit/s to 4 Mbit/s, decoded by ffmpeg):
//     an acute triangle's tip had 11–12 pixel-pictures off the fill at
//     4–9 px inside (a border macroblock skipped or predicted from a
//     reference shifted by the moving neighbours' motion), and pixelation
//     cells a standard deviation of median 2.1, worst 8–11. Fixed by
//     edge/mask (one guard ring of macroblocks; pixelation quantized to 8
//     grey levels without colour and held for the GOP, see its doc) and
//     here by two settings: the encoder no longer has an IDR period of its
//     own — Encode forces an IDR every KeyframeInterval (or after
//     ForceKeyframe), so NextKeyframe tells the masker in advance which
//     picture refreshes the pixelation; and deblocking is off
//     (iLoopFilterDisableIdc 1): between pixelation cells of different
//     values it smoothed 3 px on each side of every cell edge, the largest
//     part of the cell deviation (median 2.1 → 0), and with the guard ring
//     fill no longer needs it. Result: 0 pixels off the fill at ≥ 4 px
//     inside for every shape at 300 kbit/s and 4 Mbit/s, 360p and 1080p;
//     pixelation cells worst 0 luma, ≤ 1.5 chroma, except 1080p at
//     300 kbit/s (0.03 bit per pixel of noise), where 1–3 of 903 cells in
//     a picture reach 2.2–7.5 (keyframes at openh264's top QP).
//   - Cost (issue 14, masked CPU against ffmpeg + x264 ultrafast): with
//     the guard ring, low complexity is exact for fill too — re-measured
//     with TestR2MasksExactOnMacroblockGrid's "fill" cases (0 pixels off at
//     ≥ 4 px inside, every shape, 360p and 1080p, 300 kbit/s to 4 Mbit/s)
//     — but leaves pixelation cells at a standard deviation up to 2.1–3.0.
//     So the encoder runs LOW_COMPLEXITY unless the camera has a pixelated
//     mask (EncoderConfig.Pixelated, from mask.Masker.Pixelates), then
//     MEDIUM. Scene-change detection and adaptive quantization are off:
//     the recorder sets its own IDRs, and neither changed a pixel under a
//     mask; both ran on every picture. Encode CPU per 720p picture (best
//     of 5, testsrc2): medium 2.63 ms, medium without the two 2.43 ms,
//     low without the two 2.16 ms. With them off, 1080p pixelation at
//     300 kbit/s measured worst 0 luma (the 2.2–7.5 above was with them
//     on).
//   - Also tried (openh264 params): screen-content usage type (no better:
//     worst 3.3 at 300 kbit/s), adaptive quantization (no difference).
//     Intra refresh is not in openh264 2.1.1's API. A per-macroblock QP or
//     mode (x264's --qpfile/zones, a patched openh264) would allow finer
//     pixelation; the public API has none.
//
// # Threads (issue 14)
//
// Each Decoder and Encoder owns one C thread (worker.c) that runs its
// openh264 calls; the Go caller hands it a job in a short cgo call and
// waits on an eventfd in Go's poller (worker.go). A multi-millisecond cgo
// call would hold a Go scheduler P in the syscall state; the runtime's
// sysmon thread retakes such Ps and, having found work, keeps polling every
// 20 µs instead of backing off: measured 16–20 % of a masked camera's CPU
// (per-thread ticks in /proc, 720p, 2-core VM), 3–5 % after. Pictures
// handed to the encoder stay in Go memory, pinned (runtime.Pinner) while
// the thread reads them; decoder input is copied to C memory. openh264's
// own threading is off (one thread per encoder: it parallelizes slices and
// the encoder codes one slice per picture).
package codec
