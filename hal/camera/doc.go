// Package camera is the gateway's V4L2 camera layer (D2): it enumerates the
// local capture devices (/dev/videoN) with the formats they offer, opens one
// in a chosen format and yields its pictures as tightly packed I420
// (YUV 4:2:0) with the capture time.
//
// It owns: format negotiation (Best picks the device's closest format to a
// wish), the conversion of YUYV, NV12, I420 and MJPEG to I420 (Convert), and
// a Capture whose Read never blocks longer than its timeout, whatever the
// device or driver does (a device that vanishes mid-capture gives an error,
// not a hang).
//
// The device access is pion/mediadevices' V4L2 driver
// (github.com/pion/mediadevices/pkg/driver/camera, built on
// github.com/blackjack/webcam). That driver registers the devices it finds
// with mediadevices' process-wide driver manager from its own init(); this
// package keeps no state of its own and rescans the devices on every List
// and Open, so a camera plugged in after start is found.
//
// The driver needs cgo and Linux. Without them it would vanish silently, so
// this package's List and Open then fail with ErrUnsupported instead.
//
// hal imports nothing from edge, storage or policy (README design §3).
package camera
