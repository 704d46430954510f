// Package onviftest is an ONVIF Profile S test device on loopback, built
// from the ONVIF specification's message definitions (Core 2.x device
// service, Media 1.0, WS-Discovery 2005/04, WS-Security UsernameToken
// PasswordDigest), not from edgerec's client: it shares no code with
// edge/onvif. Tests of edge/onvif, of the LAN page and the independent
// Node.js client (npm "onvif" 0.8.3) use it, and `edgerec run --demo` can
// start it so that the "add camera" page finds a camera.
//
// It implements: discovery (unicast on a loopback UDP port; multicast
// 239.255.255.250:3702 on a named interface, "lo" inside a test network
// namespace), GetSystemDateAndTime, SetSystemDateAndTime,
// GetDeviceInformation, GetCapabilities, GetServices (device service) and
// GetProfiles, GetVideoSources, GetStreamUri (media service). Operations of
// access class PRE_AUTH answer without credentials; the others need a
// valid digest (Created within 5 minutes of the device's clock, nonces not
// replayed) or answer the ter:NotAuthorized fault with HTTP 400.
//
// Misbehaviours for bad-input tests: Behave (malformed XML, huge or slow
// answers, a wrong element, a non-RTSP stream address, profiles without
// video) and SetStorm (duplicate, distinct, malformed and unrelated
// discovery answers per probe).
package onviftest
