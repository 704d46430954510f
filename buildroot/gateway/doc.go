// Package gateway holds the end-to-end test of the gateway image on an
// emulated ARM board (issue 16; D1, R23–R25): scripts/qemu-gateway.sh
// builds a card laid out like the SD image (layout.conf), with the overlay
// and post-build fix-ups of buildroot/board/edgerec/common, and boots it in
// qemu-system-aarch64 -M virt. The test drives the guest through the test
// hook (a shell on a virtio serial port; only in the emulated image) and
// watches it from the host: the LAN page over the port forward, beacons at
// a mosquitto on the host, an RTSP camera served from the host.
//
// It runs only with EDGEREC_REQUIRE_SWTPM=1 (CI) or EDGEREC_TEST_GATEWAY=1,
// as root; then a missing tool is a failure, not a skip. It has no
// non-test code.
package gateway
