// Package mask owns the privacy masks (R2, D3): named polygons in
// normalized picture coordinates, their validation, and burning them into
// raw I420 frames before anything is encoded, stored or shown.
//
// # Types
//
// A Set is a camera's masks, validated: NewSet is the one validation, run
// where masks come in (the LAN page's editor, the config file); the camera
// manager and the pipeline take the Set and never check again (issue 15).
// A Masker is built from a Set (Set.Masker; New = NewSet + Masker) and
// Apply is called on every decoded frame. Apply returns a Masked, the
// only value encoders and the live view accept; Masked can be obtained in no
// other way, so unmasked frames cannot reach them by mistake. A camera
// without masks still goes through a Masker (with no masks), which just
// wraps the frame.
//
// # Rasterization
//
// Polygons are scaled to the frame and scan-converted once per resolution
// into per-row spans; the result is cached for the last resolution seen and
// rebuilt when the frame size changes. Later frames at that size do not
// allocate.
//
//   - Sampling: a luma pixel (x, y) is inside a polygon when its centre
//     (x+0.5, y+0.5) is, by the even-odd rule. An edge counts for a scanline
//     when the scanline is in [min y, max y) of the edge and a span covers
//     centres in [x_enter, x_exit), so a centre exactly on an edge belongs to
//     exactly one of two polygons sharing it. A polygon spanning [0,1]×[0,1]
//     covers every pixel.
//   - A sliver thinner than a pixel may cover no pixel centre on some rows;
//     draw privacy masks with a margin.
//   - Several masks are unioned (their overlap is masked once, not toggled).
//   - Macroblock grid (issue 14): the area actually masked is the set of
//     16×16 macroblocks (MacroblockSize) of the coded picture's grid,
//     anchored at the top-left corner, that hold at least one covered pixel
//     centre, plus GuardRings (1) ring of macroblocks around them (the 8
//     neighbours of each); a picture whose size is not a multiple of 16 is
//     coded at the next one (1080 → 1088), so the last macroblock row or
//     column is partly outside the picture and masked only where visible.
//     No macroblock then mixes masked and unmasked picture, so the
//     encoder's ringing at an edge cannot reach into a mask. The guard ring
//     is there for motion compensation: in predicted pictures openh264
//     skips or predicts a border macroblock from a reference shifted by its
//     moving neighbours' motion, pulling unmasked pixels a few pixels into
//     the area (measured before the ring: 11–12 pixels at 4–9 px inside an
//     acute triangle's tip, 640×360 noise; with it: 0 at 300 kbit/s and
//     4 Mbit/s, 360p and 1080p, edge/pipeline's
//     TestR2MasksExactOnMacroblockGrid). More masking is privacy-safe; the
//     cost is a 16 px band around every mask: 4.4 % of the picture height
//     at 360p, 2.2 % at 720p, 1.5 % at 1080p. For a mask covering 10 % ×
//     10 % of the picture the masked share of the picture grows from 1.0 %
//     (polygon) to 1.3 / 1.1 / 1.0 % (macroblocks) and 3.3 / 1.9 / 1.6 %
//     (with the ring) at 360p / 720p / 1080p. Pixelate masks get
//     PixelateGuardRings (2): a pixelated area is cells of different
//     levels, and at openh264's top QP (1080p noise at 300 kbit/s, 0.03
//     bit per pixel) a predicted cell on the polygon's edge next to moving
//     content took a copy of its neighbour shifted by the neighbours'
//     motion (1–3 of 903 cells per picture at a standard deviation of
//     2.2–7.5 with one ring; 0 cells above 0.0 with two, same test). The
//     config keeps the
//     normalized polygons; the growth is computed per resolution. The mask
//     editor draws the grown area (ring included) as a second outline.
//   - Chroma: the chroma samples of a masked macroblock (8×8) are masked.
//   - Coordinates outside the picture are clipped (Validate refuses them
//     anyway; the rasterizer is robust to them).
//
// # Styles
//
//   - fill (default): the covered pixels are set to Options' fill colour,
//     video black (16,128,128) by default, by copying from pre-filled rows.
//   - pixelate: the picture is cut into Block×Block luma cells aligned to
//     (0,0), Block snapped to the macroblock grid by SnapBlock (4, 8 or a
//     multiple of 16, never smaller than asked); in every cell the grown
//     area touches, its luma pixels in the grown area are set to one value:
//     the rounded mean of those pixels quantized to PixelateLevelStep (32:
//     eight levels 16, 48, …, 240), and the chroma of the grown area is set
//     to neutral grey (128). Applied with ApplyHeld (the camera pipeline
//     and playback transcoding do), the cell values are taken only from
//     the picture the encoder will code as a keyframe and held for the rest
//     of the GOP; Apply takes them from every picture. Why (issue 14,
//     measured with 640×360 noise at 300 kbit/s and 4 Mbit/s, decoded by
//     ffmpeg, worst cell standard deviation luma/chroma): cells that change
//     every picture are coded by openh264 at its top QP with sub-pel motion
//     compensation and intra prediction across cell edges (8.4–11.1 /
//     9.1–11.0); with deblocking off 7.5–9.0; held per GOP 0.9–3.5 /
//     1.5–4.2; plus 8 luma levels 0 / 1.0–3.6; plus neutral chroma 0 /
//     0.5–1.4 (the goal is ≤ 2). Finer steps (16, 24) or per-value
//     hysteresis instead of per-GOP holding left 2–8. The costs: the
//     pixelated area updates once per keyframe interval (2 s by default),
//     shows 8 grey levels and no colour — less than before of what is
//     behind it, which is the point of the mask. Cells at the right and
//     bottom picture edge may be partial. Pixelation is computed from the
//     frame's own pixels, so it keeps the rough brightness of a private
//     area; use fill where even that must not be shown.
//   - Where a fill mask and a pixelate mask overlap, pixelate runs first and
//     fill wins.
//
// # Comparing masks
//
// Weakened(before, after, w, h) counts the pixels of a w×h picture that
// after protects less than before (filled → not filled, masked → not
// masked), rasterized as above but on the polygons themselves, not grown to
// macroblocks (stricter: a change inside one macroblock still counts); the
// camera manager uses it on the fixed
// CompareW×CompareH grid to tell a mask change that needs an approver
// (R27) from one that only adds protection.
//
// # Validation
//
// Validate refuses: an empty name; an unknown style; fewer than 3 or more
// than MaxPoints points; a coordinate that is NaN or outside [0,1]; a point
// equal to the previous one (including a last point repeating the first —
// polygons close by themselves); an edge that folds back onto its
// neighbour; two non-adjacent edges that cross or touch; a zero area. Errors
// are *Error values wrapping ErrInvalid, formatted like
//
//	mask "window": point 3 (1.20, 0.50): x outside 0..1
//
// where points count from 1 (Error.Point holds the 0-based index).
//
// Apply panics on a frame that breaks media.Frame's invariants (nil, odd or
// non-positive size, planes of the wrong length): such a frame can neither
// be masked nor passed on.
package mask
