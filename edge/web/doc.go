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
// Path ids ({id}, {uid}, {gid}, {xid}, {sid}, {part}) are checked by the
// guard before any lookup: anonymous callers still get 401 first (no route
// discovery); anyone else gets 400 {"error":"bad id: …"} for an id validID
// refuses. Each such request writes exactly one audit record whose target is
// "invalid-id-" and a short hash, never the raw bytes; camera routes record
// target kind camera, so the uplink sends those ids only as keyed hashes
// (R16, R19).
//
// The package shows only what the pipeline exposes: masked pictures and
// masked video (D3). Snapshots carry the viewer's identity and the time
// burned in; live and played-back video carry them in an overlay that the
// page keeps on top of the <video> element (R18).
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
//	watermark.go    viewer identity and time burned into snapshots
package web
