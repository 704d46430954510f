// Package live owns the WebRTC live view (WHEP, R18, R20): one pion video
// track per camera, fed from ONE reader of the camera's hub, shared by every
// viewer of that camera. The track is a TrackLocalStaticSample: each masked
// H.264 access unit is written once and pion fans it out to every bound
// PeerConnection, so several viewers cost one encoder (the camera's) and one
// hub reader, never a per-viewer encode. Only masked video exists here: a
// Feed carries pipeline.Video, which only the pipeline makes (D3, R2, issue
// 15), so nothing else can be shown.
//
// ICE uses host candidates on the LAN only: no STUN, no TURN, mDNS off. The
// loopback interface is offered only when Config.AllowLoopback is set (tests
// and the headless-browser rig). Media is DTLS-SRTP (R20).
//
// The viewer's identity and the time (R18) are drawn by the page over the
// <video> element: one shared encoder cannot burn per-viewer text.
//
// # Limits and closing (issue 12)
//
// Invariants:
//
//   - At most Config.MaxViewers sessions on the device (default 8,
//     ErrTooManyViewers) and at most Config.MaxPerViewer per user (default
//     2, ErrViewerLimit), counted and registered under one lock, so
//     parallel offers cannot exceed either.
//   - Every session carries its Viewer: the user id and the opaque handle
//     of the login session it was opened under. live never decides who may
//     watch; it stores both so that its caller can re-authorize.
//   - Sessions lists what runs; End(id, reason) closes one and reports
//     whether this call closed it, so a closing is audited exactly once by
//     the caller. Closing closes the PeerConnection (DTLS close_notify), so
//     the viewer's track ends at once, not after an ICE timeout.
//   - The LAN page (edge/web) re-checks every session at least every 5 s
//     and Ends the ones whose user or login session lost the right, or
//     that reached the maximum duration.
//
// Layout:
//
//	live.go     Config, Deps, Server, Offer/Close (WHEP), per-camera channels
//	sdp.go      offer validation (size, media sections) before pion sees it
package live
