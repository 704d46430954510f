// Package redact owns the one URL redactor of the module: what may be
// printed (logs, errors, the LAN page, audit details) of a URL that can
// carry credentials — a camera source (rtsp://user:pass@…), a broker URL
// (mqtts://user:pass@…).
//
// Invariants: the userinfo (user and password) is never shown; the values
// of query parameters whose names look secret (pass, password, token, key,
// auth, …) are never shown; an unparseable URL shows neither anything
// between "://" and "@" nor anything after "?". Everything else (scheme,
// host, port, path, other parameters) is kept, so a technician can still
// tell the cameras apart.
//
// It imports only the standard library, so every layer that prints URLs
// (edge/config, edge/source, edge/uplink/mqttc, edge/web, cmd/edgerec) can
// use it; edge/uplink stays free of video packages (D6).
package redact
