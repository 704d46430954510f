// Package schedule decides when a camera records (issue 18; the seed
// rules' 规定时间, "at the stated times"): always, or inside weekly windows
// in the site's local time (device.timezone).
//
// A Window is a set of weekdays and a local clock range [From, To) in whole
// minutes; To may be 24:00, and a window whose To is not after its From
// runs past midnight into the next day (22:00–06:00 on fri is Friday
// 22:00 to Saturday 06:00). New refuses a window with no day, a day named
// twice, an empty range, and two windows that overlap anywhere in the
// week (the error names both and the first shared minute); it never
// merges them silently, because an installer who wrote two windows meant
// something by each.
//
// Active(t) is evaluated on the wall clock of t in the schedule's zone, so
// daylight-saving changes move the windows with the local clock (a window
// 08:00–18:00 is ten local hours, nine or eleven real ones on the change
// days; a window starting in the skipped hour starts at the first local
// minute after it). Off(from, to) lists the spans of [from, to) outside
// every window, for the timeline ("scheduled off", not a gap).
//
// A nil *Schedule is "always": Active is true and Off is empty.
package schedule
