// Package review owns the periodic permission review of R14: from the users
// and grants it builds a report of accounts, roles, grants and last use,
// flags stale accounts and picks those to disable. It is pure; the policy
// store reads the rows, applies Disable and audits it.
//
// An account's last activity is the latest of its last login, last use and
// creation. It is flagged stale after FlagAfter without activity and is to
// be disabled after DisableAfter (config policy.stale_account_days, default
// 90 days). The last enabled admin is never picked for disabling (a device
// without an admin cannot be managed any more); it stays flagged.
package review
