// Package web owns the LAN page that field technicians use (D7): the HTTPS
// listener with the device's ECDSA P-256 certificate (R20), the optional
// address allowlist (R21), first-run setup with a one-time code, logins with
// throttling and a burst event (R22), sessions in opaque cookies, CSRF
// protection (http.CrossOriginProtection), the one authorization point over
// the policy permission table (R11, policy/PERMISSIONS.md), the audit of
// every refusal and of every call that touches video, config, users or
// grants (R16), the JSON API under /api/v1/ and the server-rendered page with
// its embedded assets, /metrics (Prometheus, own registry).
//
// The package shows only what the pipeline exposes: masked pictures and
// masked video (D3). Snapshots and played-back video carry the viewer's
// identity and the time burned into their pixels; live video carries them
// in an overlay that the page keeps on top of the <video> element (R18).
//
// Why the two differ. Live view must be low-latency and cheap: edge/live
// runs one encoder per camera shared by every viewer, so per-viewer text
// cannot be in its pixels without one encoder per viewer (a 2-core board
// cannot afford that) and without adding a frame or more of latency; what
// a live viewer could save is also bounded by the session. Playback is
// rare, approved in advance (a four-eyes grant) and watched by one person,
// and a saved fMP4 stream is otherwise an export without a manifest
// (issue 12): so every playback window is decoded, the camera's current
// masks applied once more (they can only hide more than the masks burned
// in at recording), the viewer's name, the grant id, the footage time and
// the wall time (UTC) drawn on a band that only darkens (luma towards
// video black, chroma towards neutral: a fill mask keeps its exact
// colour, nothing hidden gains detail), and encoded again on one thread.
// That costs one core per playback, so at most maxPlaybacks run at once
// device-wide (the next gets 429), and the grant is checked at the start
// of each window (UseGrant, audited) and re-read every 2 s while it
// streams. Export downloads check the export grant in the same way on
// every part, so a revoked or expired grant stops a finished file too.
//
// Collaborators are small interfaces declared in deps.go and accounts.go
// (Policy = *policy.Store, Cameras = the camera manager, Live =
// *live.Server, Recordings = *storage.Store, Exports, Decommissioner).
//
// Layout:
//
//	server.go       Config, Deps, Server, New, Run, middleware, CSP
//	deps.go         the collaborator interfaces and their errors
//	accounts.go     the Policy interface, principals
//	setup.go        one-time setup code (file hash, ProvisionSetupCode)
//	session.go      in-memory sessions (idle and absolute timeouts)
//	throttle.go     failed-login back-off per address and per account
//	routes.go       the route table (route → permission → handler)
//	authz.go        authorize (the one decision), guard, audit of calls
//	login.go        login parsing and the shared login flow
//	api.go          JSON helpers, error mapping, setup/login/me/health/snapshot
//	api_*.go        cameras and masks, live (WHEP), recordings (fMP4
//	                playback under a grant), users and roles, grants,
//	                review/audit/exports/decommission
//	coalesce.go     one audit record per viewer and camera per window
//	metrics.go      Prometheus registry and collectors
//	pages.go        templates, navigation, embedded static assets
//	tlscert.go      device certificate: load or create, atomic writes
//	watermark.go    viewer identity and time burned into snapshots and
//	                into I420 frames (the playback band)
//	transcode.go    playback transcoder: decode, masks, burn-in, encode
package web
