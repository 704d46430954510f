// Package rpiotp uses the Raspberry Pi's device-unique private key, held in
// the SoC's one-time-programmable memory (OTP), as the key-encryption key
// (KEK) of the recorder's root key (issue 13; R5, R25, R32). It is for
// BCM2711 and BCM2712 boards (Raspberry Pi 4, 400, CM4, 5, CM5): earlier
// SoCs have no device private key rows.
//
// # Design
//
//	OTP rows (8 × 32 bit, set once per board life)
//	 └─ KEK = HKDF-SHA256(OTP key, no salt, info "edgerec/v1/otp-kek")
//	     └─ root key (random, 32 bytes), wrapped with XChaCha20-Poly1305 in a
//	        small versioned file on the data disk (format in wrap.go), the
//	        AAD naming the use, the format version and the board serial
//	         └─ storage/keys' hierarchy (KEK, epoch keys, hold keys)
//
// The root key stays random and on disk, and the OTP key only wraps it,
// because the OTP cannot be erased: a wipe must be able to destroy the
// root key (R25), which deriving it from the OTP would forbid.
//
//   - OTP reads (ReadKey, Programmed) and programs the key (Program,
//     Provision) through a Mailbox, the ioctl boundary: VCIO is the real
//     one (Linux /dev/vcio), Fake is an exported test double that speaks
//     the same protocol, for this package's and other packages' tests.
//   - Wrap / Unwrap / ParseWrapped are the file format.
//   - Provider has Load and Destroy in the shape of storage/keys.RootProvider
//     (plus Create). The storage integration (not done here) adopts it and
//     maps ErrNoWrappedKey to keys.ErrErased.
//
// Nothing falls back: no mailbox (ErrNoDevice), a refusal (ErrRefused), a
// firmware that does not know the tag (ErrUnsupported), a malformed answer
// (ErrTruncated), an all-zero key (ErrNotProgrammed), a damaged file
// (ErrCorrupt, ErrVersion), another board's file (ErrOtherBoard) or a key
// that does not open it (ErrWrongKey) are each an error, and Load never
// writes. Key material is never logged or put in an error.
//
// # Programming
//
// Program is irreversible. It needs a confirmation token, the board serial
// (OTP.Serial; normally what /proc/cpuinfo shows as Serial), which the operator who decided
// to program this very board types or passes; a mistyped or missing token
// is ErrNotConfirmed before anything is read from the key rows. An OTP that
// already holds the same key is left alone (success); one that holds
// another key is refused (ErrAlreadyProgrammed) without a write, because
// the firmware would OR the bits together. After writing, the key is read
// back and compared (ErrVerify: the OTP may be partially programmed). A
// key programmed with rpi-otp-private-key on a production line is used as
// it is (Provision writes only to a blank OTP).
//
// # Firmware property protocol
//
// Sources: the Raspberry Pi firmware wiki, "Mailbox property interface"
// (github.com/raspberrypi/firmware/wiki/Mailbox-property-interface); the
// Raspberry Pi documentation, "Device specific private key" and "Program a
// key into OTP with rpi-otp-private-key" (raspberrypi.com/documentation/
// computers/raspberry-pi.html); the script rpi-eeprom/tools/
// rpi-otp-private-key (github.com/raspberrypi/rpi-eeprom), and the kernel
// driver drivers/char/broadcom/vcio.c (github.com/raspberrypi/linux).
//
// A message is a sequence of little-endian 32-bit words:
//
//	u32 buffer size in bytes (header, tags, end tag)
//	u32 code: 0x00000000 request; answer 0x80000000 success,
//	    0x80000001 error parsing the request (partial response)
//	tags, each:
//	  u32 tag id
//	  u32 value buffer size in bytes
//	  u32 request: b31 clear (we put the request length in b30..b0, as the
//	      documented vcmailbox calls do); response: b31 set, b30..b0 the
//	      value length in bytes (more than the buffer: the answer did not fit)
//	  value buffer, padded to 32 bits
//	u32 0x00000000 end tag
//
// Tags used:
//
//	0x00010004 get board serial: 8-byte buffer; answer u64 (low word first)
//	0x00030081 get device private key: value = row offset, row count,
//	           then count rows; we ask offset 0, count 8 (40-byte buffer,
//	           "vcmailbox 0x00030081 40 40 0 8 0 0 0 0 0 0 0 0")
//	0x00038081 set device private key: same layout with the rows to burn;
//	           the firmware accepts it only if the new rows are the bitwise
//	           OR of the current rows and the new rows (OTP bits go 0 → 1)
//
// The key is the 8 rows, each big-endian, row 0 first: the same 64 hex
// digits rpi-otp-private-key prints and accepts (-w $(openssl rand -hex 32)),
// so a key programmed on a production line with the script is the key read
// here. All zeros means not programmed. An answer is accepted only if its
// size covers header, tag, value and end tag, its code is 0x80000000, it
// echoes our tag and value buffer size, it has the response bit, a value
// length of at least what was asked and no more than the buffer, and for
// the key tags echoes offset 0 and count 8.
//
// On Linux the message goes to the IOCTL_MBOX_PROPERTY ioctl on /dev/vcio,
// _IOWR(100, 0, char *) = 0xC0086400 on arm64 (0xC0046400 on 32-bit arm).
// The driver copies "size" bytes in and out of the caller's buffer, so the
// size word is checked against the slice before the call. It answers
// -EINVAL when the firmware's code is not success (then nothing is copied
// back) and newer drivers -EPERM for a tag outside their allowlist; both
// are ErrRefused. ENOTTY (not the vcio device) and ENOSYS (no such ioctl,
// e.g. under qemu-user) are ErrNoDevice. The device is opened per exchange.
// Checked under qemu-user for arm64 and 32-bit arm (ioctl number, build);
// not yet run on a real Pi (see issue 13).
//
// # Threat model
//
// What it protects (R32): a copy of the storage medium without the board.
// A thief who takes the SD card, eMMC image or SSD, a card sent for repair
// or thrown away, or an image made during maintenance, holds only the
// wrapped root key; without the 256-bit OTP key of that very board it is
// noise, and so is everything under it (footage, epoch and hold keys).
// Moving the medium to another Pi gives ErrOtherBoard.
//
// What it does not protect:
//
//   - The whole gateway. The OTP private key is readable through the
//     mailbox by root and by any user in the 'video' group (the owner of
//     /dev/vcio) on that board. A thief with board and medium can boot
//     their own OS on the board and read it. rpi-otp-private-key says so
//     for "Raspberry Pi 4 and earlier revisions" (no hardware secure key
//     store); we assume the same of the BCM2712 boards until shown
//     otherwise.
//     Only a board locked to signed boot (secure boot, Raspberry Pi
//     usbboot/rpi-eeprom "secure-boot" setup, with the customer key in
//     OTP) keeps foreign code from reading it; setting that up is outside
//     this package. On the running device, keep /dev/vcio to root and the
//     recorder's user (no other services in 'video').
//   - A running device: the root key is in the recorder's memory (see
//     storage/keys).
//
// Wipe (R25): the OTP key cannot be erased, ever. Destroy overwrites and
// unlinks the wrapped root key file; once it is gone, the root key is gone.
// But on flash an overwrite is best effort (storage/keys' threat model): a
// chip-off reader may still find the old wrapped file in a remapped page,
// and whoever also has the board (its OTP key) can open that copy. The
// wipe certificate of an OTP-wrapped device must therefore say: "root key
// destroyed by deleting its OTP-wrapped copy; the board's OTP key-encryption
// key cannot be erased and remains on board <serial>; keep or destroy the
// board together with the medium". Destroying the board (SoC) is what makes
// any surviving copy useless.
//
// It imports nothing from edge, storage or policy (README design §3).
package rpiotp
