// Package onvif is edgerec's small ONVIF Profile S client for the LAN
// page's "add camera" (issue 18, D2): WS-Discovery on the camera LAN, then,
// for a picked camera with its credentials, device information, media
// profiles, the RTSP addresses of the main and sub stream, and the camera's
// clock (read, and set from the gateway's synced clock).
//
// Why our own: the Go ONVIF libraries are not served by the module proxy
// this project uses (checked with `go list -m -versions`), and the few
// messages needed are short. It is written on encoding/xml and net/http
// only, from the ONVIF Core (device service, §5 SOAP, §7 discovery) and
// Media 1.0 WSDLs, WS-Discovery 2005/04 and the OASIS UsernameToken
// Profile 1.0 (PasswordDigest = Base64(SHA-1(nonce + created + password))).
//
// What it owns:
//
//   - Discoverer: one Probe for dn:NetworkVideoTransmitter to
//     239.255.255.250:3702 (TTL 1, optional interface) or any injected
//     target (a unicast host:3702, tests); answers are collected for Wait
//     (3 s, ≤ 10 s) or until ctx ends. Each datagram is bounded (64 KiB),
//     must carry RelatesTo = our MessageID (unrelated or spoofed answers are
//     ignored), answers for one endpoint are merged, at most MaxFound (256)
//     cameras are kept; malformed answers are counted, never fatal.
//   - Client: the SOAP 1.2 calls GetSystemDateAndTime (sent without
//     credentials first, as the spec allows; its offset is used for the
//     digest's Created so that a camera with a wrong clock still accepts
//     it), GetDeviceInformation, GetCapabilities (Media XAddr, re-based on
//     the host the installer chose: the gateway talks only to that host),
//     GetProfiles, GetStreamUri (RTP-Unicast over RTSP) and
//     SetSystemDateAndTime (Manual, UTC). Every answer is bounded (MaxAnswer,
//     1 MiB), every call by DefaultCallTimeout (5 s) or the caller's earlier
//     deadline; no proxy, no redirects. Connections go to camera-LAN
//     addresses only (LANOnly, checked at dial time after name resolution:
//     RFC 1918, link-local, IPv6 unique-local; loopback only with
//     WithLoopback, for the demo and tests), so the LAN page cannot make
//     the gateway talk to the Internet or to its own services.
//   - Setup: the whole read in that order; the clock is set last, only when
//     asked, when the gateway's clock is synced, and when every read
//     succeeded — an error means nothing was changed on the camera.
//   - Finder: Discover and Setup for the LAN page, one discovery at a time,
//     at most MaxSetups set-ups at once (ErrBusy otherwise).
//
// Errors wrap one of ErrUnauthorized, ErrTimeout, ErrTooLarge, ErrBadAnswer,
// ErrFault, ErrUnreachable, ErrInvalid, ErrDiscovery, ErrBusy and say which
// message failed; text from a camera is clipped and stripped of control
// characters. A password is never in an error, a log line or %v
// (Credentials.String hides it). The parsers (decodeBody, ParseProbeMatch,
// parseProfiles, parseClock, checkStreamURI, mediaAddress) are pure and
// fuzzed (seeds in testdata/fuzz).
//
// Tests run against onviftest, a device built from the specification's
// message definitions and independently checked with the npm client
// "onvif" 0.8.3; multicast tests run in a new network namespace
// (onviftest.InNetns) and never touch a real interface.
//
// Not done here: Media2 (Profile T), PTZ, events, HTTP digest
// authentication (cameras that accept only HTTP digest and not the WS
// UsernameToken are refused with ErrUnauthorized), HTTPS certificate
// pinning for https:// device addresses (the default TLS verification
// applies, so a self-signed camera on https fails with ErrUnreachable).
package onvif
