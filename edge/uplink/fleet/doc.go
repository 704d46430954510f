// Package fleet owns the ops view of gateways (`edgerec fleet`): it
// subscribes to <prefix>/+/# on the ops broker (optionally as a shared
// subscription, so several consoles split the load), decodes status,
// beacons, events and audit records, keeps one row per gateway (online, last
// beacon age, cameras ok/total, horizon vs floor, alerts) and flags a
// gateway whose beacons stopped. It renders a live table or streams JSON
// lines. It only reads; it never publishes to a device (R21).
package fleet
