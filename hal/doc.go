// Package hal groups the hardware abstraction packages of the gateway:
// hal/camera (V4L2), hal/gpio (status LED, tamper switch, wipe button),
// hal/board (model, temperature, throttling, watchdog, clock sync),
// hal/blockdev (discard ioctls), hal/rpiotp (the Raspberry Pi OTP device
// private key as the key-encryption key of the root key) and hal/tpm (the
// root key sealed in a TPM 2.0). hal imports nothing from edge, storage or
// policy (README design §3; cmd/edgerec's layering test checks it). The
// subpackages arrive with the issues that need them.
package hal
