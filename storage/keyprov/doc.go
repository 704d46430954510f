// Package keyprov chooses and reaches the hardware that holds the device
// root key (issue 13): it turns the storage.* settings of the config (the
// provider name, the TPM device, its PCRs, the OTP mailbox) into the
// provider lookup storage needs (Providers, and Staged for a rekey), refuses
// a store recorded with another provider than the configured one (Check:
// never a fallback), opens the store timing the unseal (Open), prepares the
// Raspberry Pi OTP before provisioning (PrepareOTP), and keeps the small
// record of starts refused because the root key was unavailable (Fault*).
//
// The providers themselves live in hal/tpm, hal/rpiotp and storage/keys
// (file); this package only selects them. It imports storage and hal, never
// edge or policy (README `layering`). The CLI and the daemon share it.
package keyprov
