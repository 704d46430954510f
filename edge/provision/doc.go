// Package provision creates a device and owns the secrets provisioning
// seals (issue 13, R32): Device runs the install checks (free space and
// preallocation for the ring, clock state), prepares the key provider,
// provisions the recording store, its vault, the policy store (signing
// key), the LAN page's TLS certificate and the one-time setup code, seals
// the uplink client key, the MQTT password and the camera passwords into
// the vault, and writes the installed config that refers to them.
//
// Uplink opens those sealed uplink secrets again for the daemon and for
// the decommission's last message: a "vault:" reference in the config
// names a file <data>/<name>.sealed (SealedPath).
//
// The CLI (`edgerec provision`) only parses flags, assembles the config and
// prints the result; it is tested without the binary here.
package provision
