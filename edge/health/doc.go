// Package health owns the device's one view of its own health: per-camera
// state and rates, storage figures, where the root key lives (the key
// provider, with a standing alert when it does not protect against theft of
// the disk) and the one list of active alerts (code, severity, text, since).
// The LAN page, the status LED and the uplink beacon all read the same
// Snapshot, so they can never disagree. Warn/Clear are the older text-only
// names for Raise/Resolve with SevWarning.
package health
