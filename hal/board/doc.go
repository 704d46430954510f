// Package board reads what the gateway knows about its own hardware, for
// health (R23) and the beacon: the board model (device tree), the CPU
// temperature (thermal zones), the load average and memory (procfs), the Raspberry Pi firmware's throttling flags
// (sysfs get_throttled; vcgencmd is not on the static image), the clock
// sync state (adjtimex: STA_UNSYNC / TIME_ERROR), and it keeps the hardware
// watchdog (/dev/watchdog) fed while the recorder is healthy, so that a
// hung recorder reboots the box.
//
// Every path is under an injectable root (Config.Root, "/" by default) so
// tests run on fake sysfs/procfs trees. Missing files are "unknown"
// (ErrUnknown), never a crash: the same binary runs on a Pi, a PC and in
// CI.
//
// It imports nothing from edge, storage or policy (README design §3).
package board
