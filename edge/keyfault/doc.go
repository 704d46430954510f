// Package keyfault is what the daemon does about a root key it cannot have
// (issue 13): Refuse, at a start without the key, writes exactly one ERROR
// line naming the provider and the cause, notes the refusal in the data dir
// (storage/keyprov's record, the only file it writes: nothing can be
// audited or sent then, as the policy and uplink secrets are sealed under
// the same root), and shows the fault pattern on the status LED for a while
// if one is wired; recording does not start. Report, at the next start that
// has the key, audits the refusals, sends them upstream as one
// keys.unavailable event (provider, count, first and last time) and
// removes the record. Never a fallback to another provider.
//
// It moved out of cmd/edgerec with issue 15; cmd only wires it.
package keyfault
