// Package health owns the device's one view of its own health: per-camera
// state and rates, storage figures and the list of active warnings. The LAN
// page, the status LED and (later) the uplink beacon all read the same
// Snapshot, so they can never disagree.
package health
