// Package timesync keeps the gateway's NTP server list: the file the time
// service (buildroot S45edgerec-timesync, busybox ntpd) reads when it
// starts, one server per line, beside the config file
// (/data/edgerec/ntp-servers). No file, or an empty one, means the pool.
// The Settings page of the LAN page changes it (issue 18, R23).
//
// Invariants: the file is replaced atomically (fsutil: temporary file,
// fsync, rename), so ntpd never reads half a list; the names are checked
// by the caller (edge/web parseSettings: host name or IP address, bounded
// count), and a name with white space or '#' is refused here too, before
// anything is written, so a refused list leaves the old file as it was.
// ntpd reads the file only at start: a change needs a restart, which the
// page says.
package timesync
