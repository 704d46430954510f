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
// An unknown scheme is ErrUnknownScheme with the scheme named; errors never
// carry a camera password. Probe opens a camera without recording.
package source
