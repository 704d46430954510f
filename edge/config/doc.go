// Package config owns edgerec.yaml, the device's one configuration file
// (README design §5): its Go types, strict parsing and validation, and the demo
// configuration of `edgerec run --demo`.
//
// # Parsing
//
// Parse (and Load) decode with github.com/goccy/go-yaml in strict mode:
// unknown keys, duplicate keys, several documents, YAML anchors, aliases,
// merge keys and tags are errors, and so is input nested more than 16
// levels deep or larger than 256 KiB. Every error is one line of the form
//
//	edgerec.yaml: line 14: cameras[0].masks[1].polygon: mask "door": fewer than 3 points (has 2)
//
// naming the file, the line (of the key, or of the list item) and the field
// path; it is an *Error wrapping ErrInvalid (and the cause, e.g. a
// *mask.Error or rules.ErrRetention). Validate checks a Config built in code
// (Demo, the LAN page) with the same rules and the same messages without
// file and line. The first problem found is reported.
//
// # Values
//
//   - Sizes: plain bytes or a number with KiB, MiB, GiB, TiB (or KB, MB, GB,
//     TB): 256MiB, 64GiB.
//   - Durations: Go durations (1s, 72h, 1h30m) or whole days (30d).
//   - Dates: YYYY-MM-DD.
//
// # Defaults
//
// storage.flush_interval 1s; storage.ring_path = data_dir/ring; policy
// retention 30d..90d (rules.DefaultFloor/DefaultCeiling), grant_max_validity
// 72h, stale_account_days 90; camera name = id, bitrate_kbps 1500,
// keyframe_interval 2s, retention = the policy floor, mask style fill;
// lan.listen 127.0.0.1:8443, empty allowlist = any address,
// live_max_per_user 2, live_max_duration 30m; no uplink section
// = no uplink, otherwise topic_prefix edgerec and beacon_interval 60s; gpio
// pins empty = not fitted.
//
// # Rules
//
// device.id and camera ids: 1-64 of [a-z0-9_-], camera ids unique; data_dir
// and ring_path absolute; ring_size >= 16MiB; flush_interval 100ms..1m;
// retention floor/ceiling per rules.Retention.Validate (ceiling <= 400d);
// policy.prohibited_zones known zone types; grant_max_validity 1m..30d;
// stale_account_days 1..3650; camera source scheme test, rtsp, rtsps or
// v4l2 (rtsp needs a host, v4l2 a /dev path, test is test://pattern?…);
// camera credential empty or "vault:camera/<own id>/password" on rtsp(s);
// zone a known zone type; camera retention within [floor, ceiling] (R6);
// bitrate 64..50000 kbps; keyframe interval 200ms..10s; masks per
// mask.Validate with unique names per camera (R2); lan.listen host:port
// with an IP host (or empty, or localhost); allowlist entries IPs or CIDRs;
// lan.live_max_per_user 1..8 (the device-wide live view limit),
// lan.live_max_duration 1m..4h (R18);
// uplink broker mqtts://, or mqtt:// only with allow_plaintext: true
// (R20); cert and key together; TLS files absolute paths; beacon interval
// 5s..1h; GPIO names like GPIO17, each pin used once.
//
// # Prohibited zones and signage (R1, R3)
//
// A camera whose zone is known but prohibited at this site (rules.CheckZone:
// toilet, changing_room, …, classroom at a school, the policy's extra list)
// or that has no complete signage attestation is NOT a config error: the
// file parses, and Config.Refusal returns the reason, so that the recorder
// refuses that one camera, shows the reason on the page and audits it,
// while the other cameras record. An unknown zone type is a config error
// (a typo must not be mistaken for an allowed zone).
//
// # Secrets
//
// Camera source URLs and the broker URL are of type URL and the uplink
// password of type Secret: their String and GoString methods redact
// userinfo, secret-looking query values and passwords, so fmt and slog
// print them safely; string(u) gives the real value. Config.String prints
// the whole config redacted; Config.Marshal is the full file (secrets
// included) for writing it back. Error messages never quote a source or
// broker URL and are scrubbed of any "scheme://user:pass@" text.
//
// A camera's password belongs in the device's vault, not in this file
// (issue 13, R32): the source keeps the URL without the password (the user
// name may stay) and credential: "vault:camera/<id>/password"
// (CredentialRef; the vault name is CredentialName) refers to it. Only the
// camera's own item is accepted, only on an rtsp or rtsps source, and the
// error never quotes the value. A password inline in the source still
// parses (a hand edit): cmd/edgerec moves it into the vault (SplitPassword)
// and gives the source the full URL at run time (WithPassword). This
// package does no sealing itself.
package config
