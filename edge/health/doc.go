// Package health owns the device's one view of its own health: per-camera
// state and rates, storage figures, where the root key lives (the key
// provider, with a standing alert when it does not protect against theft of
// the disk) and the one list of active alerts (code, severity, text, since).
// The LAN page, the status LED and the uplink beacon all read the same
// Snapshot, so they can never disagree. Warn/Clear are the older text-only
// names for Raise/Resolve with SevWarning.
//
// Panel is the front panel's behaviour (R24, R25): the status light
// follows the snapshot (PanelLight), the tamper switch raises a critical
// alert, an upstream event and an audit record, and the wipe button held
// 10 s arms the LAN page's wipe confirmation for five minutes. The pins
// are hal/gpio's; the panel reaches the LED through the Indicator
// interface it declares (cmd/edgerec adapts gpio.GPIO.SetLevel), and gpio's
// input callbacks call Panel.Tamper and Panel.WipeArmed. A wipe in
// progress (AlertWiping) overrides every other light.
package health
