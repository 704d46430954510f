// Package source opens camera sources by URL and yields raw I420 frames.
//
// Schemes:
//   - test://pattern?width=&height=&fps= — a synthetic moving picture, built
//     in (demo, selftest, tests); a RawSource.
//   - v4l2:///dev/videoN?width=&height=&fps=&format= — a local camera through
//     hal/camera (pion/mediadevices); YUYV/NV12/I420/MJPEG converted to I420;
//     a RawSource.
//   - rtsp://user:pass@host/path?transport=tcp|udp|auto — an IP camera through
//     gortsplib; H.264 access units; a CodedSource. Other codecs are
//     ErrCodecNotSupported (a health state, not a crash).
//
// H.265 (issue 18): an RTSP camera offering H.265 (and no H.264) is
// received too; its access units carry Codec "h265", keyframes are IRAP
// pictures (IDR, CRA, BLA) with VPS, SPS and PPS in band, and the size and
// rate come from the H.265 SPS. Nothing decodes it (passthrough only). A
// NAL unit that cannot be of the announced codec (forbidden bit, a type the
// codec leaves unspecified; H.265 parameter sets under an H.264 SDP) fails
// the source with ErrStream naming what the camera really sends, before
// any unit of it is queued.
//
// An unknown scheme is ErrUnknownScheme with the scheme named; errors never
// carry a camera password. Probe opens a camera without recording.
package source
