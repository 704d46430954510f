// Package uplinktest is a test rig for the uplink and the fleet view: it
// generates a CA, a server certificate and client certificates (ECDSA P-256)
// into a temp dir, runs mosquitto with mutual TLS on a free loopback port
// (127.0.0.1 only), stops and restarts it on the same port, and collects
// what a subscriber receives. Tests only; nothing here runs on a device.
package uplinktest
