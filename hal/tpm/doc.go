// Package tpm keeps the device root key inside a TPM 2.0 (issue 13; R5,
// R25, R32), so that a copy of the storage medium without the board's TPM
// yields nothing, and destroying the key in the TPM makes every copy of the
// data directory useless. It is a building block: storage/keys integrates
// it as a RootProvider (Root has that method set; this package imports
// nothing from edge, storage or policy, README design §3).
//
// # Design
//
// Provision creates, inside the TPM:
//
//	owner hierarchy seed (in the TPM, never leaves it)
//	 └─ SRK: ECC P-256 primary, TCG template — re-derived on every use,
//	    │    never stored; same TPM + same seed ⇒ same key and name
//	    └─ sealed data object: 32 random bytes (the root key), keyed-hash,
//	         fixedTPM|fixedParent|noDA, made persistent with EvictControl at
//	         an owner persistent handle (DefaultHandle 0x8100E0C0), optionally
//	         with a PolicyPCR authorization policy
//
// A persistent sealed object rather than an NV index: it is the TPM's own
// sealing (the sensitive part is encrypted under the SRK, the object is
// bound to this TPM), PCR policies come for free, Unseal works directly on
// the persistent handle, and EvictControl removes it in one command.
//
// The data directory keeps only a descriptor (DescriptorFile, 114 bytes,
// 146 with PCRs):
// the persistent handle, the object's TPM name (SHA-256 of its public
// area), the SRK's name (which identifies the TPM's owner seed), the PCR
// selection and the PCR digest at provisioning, with a checksum. It holds
// no secret. Every use checks it against the TPM, in this order:
//
//  1. The SRK is re-derived and its name computed here from the returned
//     public area; a different name is ErrOtherTPM (descriptor copied to
//     another gateway, or this TPM was cleared).
//  2. The object at the handle must exist (else ErrNotFound: destroyed)
//     and have the descriptor's name (else ErrNotFound: another object, e.g.
//     re-provisioned after a wipe; an old descriptor never opens the new
//     key).
//  3. Unseal runs in a session salted to that SRK with response parameter
//     encryption (AES-128-CFB), so the key does not cross the TPM bus in
//     clear; with PCRs, PolicyPCR is given the recorded digest and a
//     mismatch is ErrPCRMismatch. Provision likewise sends the new key to
//     the TPM encrypted.
//
// Nothing here falls back to anything: no TPM, lockout, a PCR mismatch, a
// missing object or a bad descriptor is an error, and the recorder does not
// start without its key.
//
// Dictionary attack: the sealed object's authorization value is empty
// (possession of the TPM is the authorization, PCRs optionally narrow it),
// so there is nothing to guess and it is marked noDA: a local process
// that drives the TPM into lockout does not stop the recorder from loading
// its key. Info reports the lockout state for health and `check`;
// Provision refuses to run in lockout (ErrLockout: something is guessing),
// and any TPM_RC_LOCKOUT is reported as ErrLockout.
//
// Transports: Device opens the kernel device (/dev/tpmrm0; the kernel
// resource manager flushes what a crashed process leaves). Socket speaks
// raw TPM commands over a stream socket, which is what swtpm's socket
// server (--server type=unixio|tcp) serves: no framing around the command,
// responses delimited by the size in the TPM header. go-tpm's transport/tcp
// speaks the TCG reference simulator's protocol instead (each command
// wrapped in TPM_SEND_COMMAND, platform power commands on a second port),
// which swtpm's control channel does not implement. Socket can send
// TPM2_Startup(CLEAR), as firmware or the kernel does on hardware. Every
// operation opens, works, flushes its transient objects and sessions and
// closes; the context bounds it (a socket is closed on cancellation).
//
// # Threat model
//
// The adversary of storage/keys: someone with the gateway's storage medium
// (file system, raw blocks, chip-off of the flash), or with the whole
// gateway after a wipe.
//
//   - Medium alone (SD card stolen, or imaged): the descriptor and the
//     wrapped keys are on it, the root key is not. Without this board's TPM
//     the footage is noise. This is the property R32 asks for.
//   - Whole gateway while the key exists: the TPM unseals to anyone who
//     can send it commands. Without PCR binding, booting another OS from a
//     new SD card with the old data directory attached yields the key.
//     Binding to measured-boot PCRs (firmware and boot loader, e.g. 0, 2, 4,
//     7 where the platform measures them) restricts unsealing to the
//     expected boot chain; the Raspberry Pi has no measured boot by default,
//     so on a Pi with a TPM HAT binding only helps with a boot chain that
//     extends PCRs. A firmware update changes the PCRs: re-provision (the
//     old key must be loaded first and the store re-keyed — the storage
//     integration owns that).
//   - After Destroy (wipe, R25): EvictControl removes the object from the
//     TPM's non-volatile memory. Every copy of the data directory — the
//     descriptor restored byte for byte, the wrapped epoch and hold keys,
//     bbolt free pages, FTL remnants — is useless, on this TPM and any
//     other. How the TPM itself erases its NV is the vendor's: a discrete
//     TPM keeps NV inside the chip; a firmware TPM keeps it in flash
//     encrypted under a device-unique key. TPM2_Clear (owner clear) also
//     removes it, and changes the SRK, so a cleared TPM reports
//     ErrOtherTPM.
//   - Bus sniffing (probe on SPI/I²C/LPC): key material crosses the bus
//     only inside sessions salted to the SRK. An active interposer that
//     substitutes the SRK public area is caught by the SRK name check; the
//     descriptor is trust-on-first-use from provisioning.
//   - Tampering with the descriptor: it is not authenticated and needs
//     not be; every field is checked against the TPM, a forged PCR digest
//     fails the object's fixed policy, and an edited handle or name
//     reaches at worst ErrNotFound. Destroy never evicts an object whose
//     name differs from the descriptor's.
//   - Not covered: a memory dump of the running recorder (the key is in
//     process memory while the store is open, see storage/keys); an
//     attacker with root on the running, unlocked gateway; TPM hardware
//     attacks (decapping, fault injection).
//   - Testing uses swtpm, whose "chip" is its state directory: copying that
//     directory copies the TPM, which real hardware does not allow.
//
// Cost: Load is about 1.5 ms against swtpm on a PC (CreatePrimary, ReadPublic,
// a salted session, Unseal, flushes); on a discrete TPM the ECC primary and
// the salted session dominate, expect tens to a few hundred milliseconds,
// once per start of the recorder.
package tpm
