// Package codec owns H.264 encoding and decoding on the device.
//
// Both directions use the static libopenh264 that
// github.com/pion/mediadevices ships for linux amd64, arm64 and armv7:
// the encoder through mediadevices' own wrapper, the decoder through a small
// cgo binding to WelsCreateDecoder in the same archive (mediadevices wraps
// only the encoder). The openh264 headers in include/ are Cisco's BSD-2
// licensed headers of the same release (2.1.1), see include/openh264/LICENSE.
//
// The encoder accepts only mask.Masked pictures, so an unmasked frame can
// never be encoded by mistake (R2, D3). The package also holds the small
// Annex-B/NAL helpers the rest of the video path needs.
package codec
