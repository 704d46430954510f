// Package pipeline runs one camera: source → mask → encode → fan-out hub,
// under a supervisor that restarts it with capped exponential backoff and
// reports its state to health.
//
// The hub is the only way coded video leaves a pipeline. Every reader has
// its own queue, bounded in units and in bytes (DefaultReaderBytes, so
// bursts of 2 MB units cannot pile up hundreds of MB); a slow reader (a live viewer) loses access units
// and counts them, and then waits for the next keyframe so it never sees a
// broken picture. Publishing never blocks, so no reader can stall
// recording. What enters the hub is a Video, which only this package makes:
// the encoding of a mask.Masked picture, or the passthrough of a camera
// without masks (R2). Readers carry Video, and record.Feed and live.Feed
// take nothing else, so unmasked video is unpublishable by type
// (video_test.go compiles probes that try). A camera's masks are a
// validated mask.Set; the pipeline does not validate them again.
//
// Cost and loss (issue 14). A masked camera runs two stages: capture or
// decode on one goroutine, mask+encode on another, with a queue of
// frameQueue pictures between them; picture buffers come from a small
// per-run pool (decoded in place by codec.Decoder.DecodeInto) and go back
// to it once encoded or dropped, so a masked camera allocates no picture
// per frame (the snapshot keeps its own copy). A decoded picture that
// finds the queue full waits while it is less than MaxLate old, so a short
// burst (every camera's first keyframe and encoder set-up at once) is
// absorbed by the coded units the source queues, not lost. When the
// encoder stays behind, the
// rest of the camera's GOP is dropped undecoded (GOPs up to MaxSkipGOP;
// longer ones are decoded and dropped until the queue drains), late raw
// pictures (MaxLate) are dropped, and the encoder restarts with a
// keyframe so the hole is a gap on the record. A passthrough camera
// decodes a keyframe only now and then, on a LookPool shared by all
// cameras, never on its read loop, and keeps that keyframe coded: the
// decoded picture is kept only while someone asks for snapshots
// (SnapshotKeep), otherwise Snapshot decodes the kept keyframe again on a
// pool slot. A snapshot made before the camera's masks last changed is
// never returned (R2). Access units larger than
// Deps.MaxAccessUnit are refused with the rest of their GOP. Every lost
// unit or picture is counted in health (Dropped, which /metrics and the
// beacon carry), and a camera losing more than DropDegradeRatio of a
// window is degraded; nothing is lost silently.
//
// H.265 cameras (issue 18): passthrough only. The look (snapshot, image
// health) is skipped, health says why (Camera.ImageUnchecked, Codec) and
// Snapshot returns ErrH265NoDecoder. A masked camera that sends H.265 is
// refused (ErrMasksNeedH264, state refused, retried every MaxBackoff):
// masking needs a decoder, and R2 forbids recording it unmasked.
package pipeline
