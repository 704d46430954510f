// Package media holds the value types that flow through the video path:
// raw I420 frames, H.264 or H.265 access units (AccessUnit.Codec, issue 18)
// and stream descriptions. It has no
// behaviour beyond small helpers and imports nothing from the project.
package media
