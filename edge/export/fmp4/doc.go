// Package fmp4 is the one fragmented-MP4 muxer of the device: it writes
// H.264 access units (Annex-B, one per frame) as an init segment and
// fragments (moof+mdat). The export (edge/export: the evidence file, R17)
// and the LAN page's playback (edge/web: the watermarked stream for MSE,
// R11, R18) both use it, so a range exported and the same range played
// back have the same sample timing.
//
// # Invariants
//
//   - Nothing is written before the first keyframe that carries SPS and
//     PPS; frames before it are skipped. The init segment (timescale
//     90 kHz, avc1 with the avcC of that keyframe) comes first.
//   - Sample times are the frames' wall-clock times relative to Origin,
//     rounded to 90 kHz ticks once per frame (round half up), so durations
//     never drift; a sample lasts until the next frame, so a gap in the
//     footage shows as the frame before it held until the footage resumes
//     (the file's timeline is the wall-clock timeline). Times never go
//     back: a frame at or before the previous one is placed one tick
//     after it. The last frame lasts the interval before it (1/15 s if
//     there is only one), clipped at End.
//   - One fragment per GOP, cut at MaxFragmentFrames.
//   - Access units are copied byte for byte: AUD NAL units are dropped,
//     in-band SPS/PPS stay (openh264 gives every IDR new parameter-set ids;
//     a player that keeps the first init segment needs them).
//   - Parameter sets that change: a file (the default) keeps its one init
//     segment, since an MP4 file holds one moov; a stream for MSE
//     (Config.NewInitOnChange) gets a new init segment before the GOP whose
//     keyframe carries new SPS/PPS, which MSE accepts between fragments.
//   - Output is strictly sequential on a plain io.Writer (each segment is
//     built in memory and written once), so it can go through a sealed
//     stream or an HTTP response.
//
// H.265 (issue 18): the first keyframe decides the codec (an H.265
// parameter set in it, see IsH265). H.265 is written as an hvc1 sample
// entry with hvcC (VPS/SPS/PPS), samples in length-prefixed form, IRAP
// pictures as sync samples; Track.Codec is the RFC 6381 "hvc1.…" string.
// A unit of the other codec in the same stream is ErrBadStream (one file
// holds one codec).
package fmp4
