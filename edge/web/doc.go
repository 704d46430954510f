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
// The dashboard names where the root key lives (health key_provider) in the
// device card, and with a provider that leaves the keys on the disk (file:
// demo and development machines) a banner says so in the words of the
// health warning (issue 13); web does not know the providers, only the
// health snapshot.
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
// # Device certificate at rest (issue 13, R20, R32)
//
// The TLS private key is kept in <data>/tls/key.sealed, sealed under the
// device's vault ("tls/key", through Deps.Sealer: the storage vault); the
// certificate, public, is kept as DER in <data>/tls/cert.der, so the data
// dir holds no PEM block. The fingerprint (SHA-256 of the certificate DER)
// is what `edgerec provision` prints and what the page presents. A key.pem
// and cert.pem of older firmware are sealed and converted at the next start
// (same key, same fingerprint), then overwritten and removed. A sealed key
// that does not open (another device's vault, damage) stops New with one
// error naming the file; nothing is replaced or re-issued.
//
// # Sessions (issue 12, R22)
//
// Sessions are in memory, bounded twice: maxSessionsPerUser (4) per user —
// a further login of that user ends that user's least recently used
// session — and maxSessions (64) for the device — when it is full a new
// login is refused with 503 and a JSON message (audited), and nobody's
// session is evicted. Evicting the oldest session of the device would let
// one account (or a password-spraying script that guessed one) sign every
// other user out, an admin in the middle of a change included; refusing
// the newcomer keeps the harm with the caller, and the per-user cap means
// that filling the device takes 16 accounts, not one.
// An admin's password reset or disable ends all of that user's sessions;
// revoking a role assignment ends the subject's sessions; changing one's
// own password ends one's other sessions (the one that changed it stays).
// Each ended session remembers why for a while, for the audit record of the
// live views it closes.
//
// # Live views are re-authorized (issue 12; R11, R15, R16, R18)
//
// A WHEP session outlives the request that authorized it. Invariants
// (live_watch.go):
//
//   - A live view is bound to the login session that opened it.
//   - Every running live view is checked again at least every 5 s
//     (Config.LiveRecheck, default 2 s) and at once after a call that can
//     take the right away (logout, password change or reset, disable, role
//     revoke or approval, training change): its login session must still
//     be valid (not logged out, expired or ended) and policy.Store.Check(user,
//     cameras.live, camera) — the check the WHEP route uses: enabled
//     account, current role, camera scope, operator training, and whatever
//     the policy store refuses in future (e.g. a must-change-password
//     state) — must pass. A view that fails, or that has run
//     Config.LiveMaxDuration (default 30 min), is closed, the browser's
//     track ends, and a live.stop audit record names the reason (actor
//     "system", or the user for logout and own password change).
//   - One user holds at most lan.live_max_per_user live views (429), the
//     device at most 8 (503).
//
// Coverage changes (R27): when the camera manager answers a change with
// *NeedsApproval (a camera removal, a mask deletion/shrink/fill → pixelate,
// a zone or source change, a shorter retention), the page files a coverage request for the
// caller and answers 202 {"state":"waiting_for_approval","request":"g-…"};
// nothing changes until an approver approves it, and the approve call then
// has the manager apply it (Cameras.ApplyCoverage; 409 if the camera
// changed meanwhile). api_coverage.go.
//
// System updates (issue 16, R21) follow the same pattern: an admin POSTs a
// signed bundle to /api/v1/update (Updates.Stage verifies it; a refusal is
// a 400 naming why, audited "update.upload"), the page files an "update"
// request for its digest and answers 202; an approver's approval has the
// updater install exactly that bundle (Updates.Apply consumes the grant).
// GET /api/v1/update is the updater's status. api_update.go.
//
// Settings (issue 18; R6, R16, R20, R21, R27, R32): GET /api/v1/settings
// (config.change or network.manage: route.alt, the one route row with two
// permissions; audited "settings.read") shows each section with
// may_change and restart_needed;
// PUT /api/v1/settings/{uplink,allowlist} needs network.manage and
// {ntp,gpio,retention} config.change, each audited "settings.<section>"
// (refusals too, with the field; never PEM). Bodies are parsed by
// parseSettings (settings_parse.go, fuzzed); a refused value is 400
// {"error":"FIELD: why","field":FIELD} and nothing is written. Changes to
// edgerec.yaml go through Deps.Settings (the camera manager, the file's one
// writer: whole-config validation, atomic write with its record). What is
// live: the LAN allowlist (Server.SetAllowlist, read per request; a list
// without the requester's own address is refused) and a longer retention.
// Restart needed: uplink (connected at start), NTP servers (the time
// service reads its file at start; Deps.NTP), GPIO pins (opened at start);
// the page shows it until the daemon restarts. A shorter retention is a
// coverage change (grants.KindRetention, R27): filed like a mask deletion,
// applied by the approval; a role that sees cameras is kept to its camera
// scope there (retentionScope). Uplink material: the CA parses, the client
// certificate pairs with its key and is unexpired; the key is sealed in the
// vault (Deps.Uplink), CA and certificate kept as files; shown by subject,
// expiry and fingerprint only. api_settings.go, settings_parse.go.
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
//	session.go      in-memory sessions (idle and absolute timeouts, caps)
//	live_watch.go   re-authorization of running live views
//	throttle.go     failed-login back-off per address and per account
//	routes.go       the route table (route → permission → handler)
//	authz.go        authorize (the one decision), guard, audit of calls
//	login.go        login parsing and the shared login flow
//	api.go          JSON helpers, error mapping, setup/login/me/health/snapshot
//	api_*.go        cameras and masks, live (WHEP), recordings (fMP4
//	                playback under a grant), users and roles, grants,
//	                review/audit/exports/decommission
//	api_settings.go the Settings page's API (issue 18): Settings,
//	                UplinkStore, NTPServers; settings_parse.go its parser
//	api_onvif.go    "add camera" by ONVIF (issue 18): discovery and set-up
//	                through Deps.Finder (*onvif.Finder), cameras.manage,
//	                audited without the password; ui/static/onvif.js
//	coalesce.go     one audit record per viewer and camera per window
//	metrics.go      Prometheus registry and collectors
//	pages.go        templates, navigation, embedded static assets
//	tlscert.go      device certificate: load or create (key sealed, cert
//	                DER), migration of PEM files, atomic writes
//	watermark.go    viewer identity and time burned into snapshots and
//	                into I420 frames (the playback band)
//	transcode.go    playback transcoder: decode, masks, burn-in, encode
package web
