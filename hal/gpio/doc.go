// Package gpio drives the gateway's front panel through periph.io
// (conn/v3, host/v3): the status LED, the enclosure tamper switch and the
// wipe button (R24, R25). Pins come from the config's gpio section (periph
// pin names such as "GPIO17"; "" = not wired).
//
// One loop (Run) samples the inputs and drives the LED every Tick (50 ms):
//
//   - LED patterns follow the health level returned by Deps.Health:
//     ok steady on; degraded slow blink (1 s on, 1 s off); fault fast
//     blink (100 ms on, 100 ms off); wiping double blink (on, off, on
//     100 ms each, then 700 ms off). A level change restarts its pattern.
//   - Tamper switch: a level change that stays for two samples (debounce)
//     calls Deps.OnTamper(opened); the caller raises the event, writes the
//     audit record and sets health. The state at start is reported too if
//     the enclosure is already open.
//   - Wipe button: held continuously for WipeHold (10 s) calls
//     Deps.OnWipeArmed once per press; released earlier, nothing happens.
//     Arming only arms: the wipe still needs an admin's confirmation on the
//     LAN page (R25).
//
// Inputs are sampled rather than waited on with edge interrupts, so that
// one goroutine and an injected clock (Deps.Now, Deps.Tick) cover
// everything and tests run on periph's gpiotest fakes without real time.
// On a machine without GPIO (a PC, a container, a board periph does not
// know) New returns a GPIO whose Available is false and whose Note says
// so; Run then only waits for its context. That is not an error.
//
// It imports nothing from edge, storage or policy (README design §3).
package gpio
