// Package record is the segmenter: it reads a camera's coded stream from
// the hub and writes it to storage as segments. Its Feed carries only
// pipeline.Video, which only the pipeline makes (masked, or the passthrough
// of a camera without masks): unmasked video cannot be recorded by mistake
// (R2, issue 15). A segment starts at a
// keyframe and is cut at the first keyframe after the maximum length
// (60 s by default), after a clock jump (wall time going back, or forward
// by more than MaxJump), after the reader lost access units (the gap is
// then visible in the index as the space between two segments), and at a
// keyframe whose SPS gives another picture size than the segment's (issue
// 14: a passthrough camera that changes its resolution mid-stream; a
// segment has one size). On
// A segment has one codec too: the codec of its units ("h264" or "h265",
// issue 18) goes into storage.SegmentMeta, and a unit of the other codec
// cuts the segment. For H.265 the size comes from the H.265 SPS and
// keyframes are IRAP pictures (as the source marks them). On
// shutdown the open segment is closed, so Ctrl-C loses nothing.
package record
