package onvif_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/onvif"
	"github.com/edgerec/edgerec/edge/onvif/onviftest"
)

func startDevice(t *testing.T, cfg onviftest.Config) *onviftest.Device {
	t.Helper()
	d, err := onviftest.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func cred() onvif.Credentials { return onvif.Credentials{Username: "admin", Password: "secret-pass"} }

func synced() bool { return true }

func TestDiscoverUnicast(t *testing.T) {
	d := startDevice(t, onviftest.Config{})
	dis := onvif.Discoverer{Target: d.DiscoveryAddr(), Wait: 500 * time.Millisecond}
	res, err := dis.Discover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Found) != 1 {
		t.Fatalf("found %d cameras, want 1: %+v", len(res.Found), res)
	}
	f := res.Found[0]
	if f.Endpoint != d.Endpoint() || len(f.XAddrs) != 1 || f.XAddrs[0] != d.XAddr() || f.Name != "Loopback camera" || f.Hardware != "ET-2MP" || f.From != "127.0.0.1" {
		t.Fatalf("found %+v", f)
	}
	t.Logf("discovery: %d answer, first camera after %v, collected for %v (wait %v)", res.Answers, res.First, res.Took, dis.Wait)
}

func TestSetupReadsEverythingAndSetsClock(t *testing.T) {
	d := startDevice(t, onviftest.Config{ClockOffset: -3 * time.Hour})
	start := time.Now()
	res, err := onvif.Setup(t.Context(), onvif.SetupRequest{XAddr: d.XAddr(), Cred: cred(), SetClock: true}, synced, onvif.WithLoopback())
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	want := onvif.DeviceInfo{Manufacturer: "EdgerecTest", Model: "ET-2MP", FirmwareVersion: "V5.7.3 build 251101", SerialNumber: "ET2M-000123", HardwareID: "ET2M-HW1"}
	if res.Device != want {
		t.Fatalf("device %+v, want %+v", res.Device, want)
	}
	if len(res.Profiles) != 2 || res.Main.Profile.Token != "Profile_1" || res.Main.URI != "rtsp://127.0.0.1:8554/cam/main" ||
		res.Sub == nil || res.Sub.Profile.Token != "Profile_2" || res.Sub.URI != "rtsp://127.0.0.1:8554/cam/sub" {
		t.Fatalf("profiles/streams: %+v main %+v sub %+v", res.Profiles, res.Main, res.Sub)
	}
	if p := res.Main.Profile; p.Encoding != "H264" || p.Width != 1920 || p.Height != 1080 || p.FPS != 25 || p.BitrateKbps != 4096 {
		t.Fatalf("main profile %+v", p)
	}
	if off := res.Clock.OffsetSecs; off > -3*3600+5 || off < -3*3600-5 {
		t.Fatalf("offset before %v s, want about -10800", off)
	}
	if !res.Clock.Set || d.Sets() != 1 || res.Clock.AfterSecs > 2 || res.Clock.AfterSecs < -2 {
		t.Fatalf("clock outcome %+v, device sets %d", res.Clock, d.Sets())
	}
	if skew := d.Clock().Sub(time.Now()); skew > 2*time.Second || skew < -2*time.Second {
		t.Fatalf("device clock still %v off", skew)
	}
	t.Logf("set-up (7 SOAP calls incl. clock set and re-read) took %v", took)
}

func TestSetupLeavesClockWhenGatewayNotSynced(t *testing.T) {
	d := startDevice(t, onviftest.Config{ClockOffset: time.Hour})
	res, err := onvif.Setup(t.Context(), onvif.SetupRequest{XAddr: d.XAddr(), Cred: cred(), SetClock: true}, func() bool { return false }, onvif.WithLoopback())
	if err != nil {
		t.Fatal(err)
	}
	if res.Clock.Set || d.Sets() != 0 || !strings.Contains(res.Clock.Note, "not synced") {
		t.Fatalf("clock %+v sets %d", res.Clock, d.Sets())
	}
}

// A camera whose clock is far off still accepts the digest: Created
// follows the camera's clock learned from GetSystemDateAndTime.
func TestDigestFollowsCameraClock(t *testing.T) {
	d := startDevice(t, onviftest.Config{ClockOffset: 50 * 24 * time.Hour})
	if _, err := onvif.Setup(t.Context(), onvif.SetupRequest{XAddr: d.XAddr(), Cred: cred()}, synced, onvif.WithLoopback()); err != nil {
		t.Fatal(err)
	}
	if d.AuthFailures() != 0 {
		t.Fatalf("%d auth failures", d.AuthFailures())
	}
}

func TestWrongCredentials(t *testing.T) {
	d := startDevice(t, onviftest.Config{})
	for _, c := range []onvif.Credentials{{Username: "admin", Password: "wrong-password-xyz"}, {Username: "nobody", Password: "secret-pass"}, {}} {
		_, err := onvif.Setup(t.Context(), onvif.SetupRequest{XAddr: d.XAddr(), Cred: c, SetClock: true}, synced, onvif.WithLoopback())
		if !errors.Is(err, onvif.ErrUnauthorized) {
			t.Fatalf("%v: err %v, want ErrUnauthorized", c, err)
		}
		if c.Password != "" && strings.Contains(err.Error(), c.Password) {
			t.Fatalf("error shows the password: %v", err)
		}
	}
	if d.Sets() != 0 {
		t.Fatalf("clock was set %d times with wrong credentials", d.Sets())
	}
}

func TestBadInput(t *testing.T) {
	d := startDevice(t, onviftest.Config{})
	cases := []struct {
		name string
		b    onviftest.Behavior
		want error
		text string
	}{
		{"malformed XML", onviftest.Behavior{Op: "GetDeviceInformation", Mode: onviftest.Malformed}, onvif.ErrBadAnswer, "GetDeviceInformationResponse"},
		{"malformed clock", onviftest.Behavior{Op: "GetSystemDateAndTime", Mode: onviftest.Malformed}, onvif.ErrBadAnswer, "GetSystemDateAndTimeResponse"},
		{"huge answer", onviftest.Behavior{Op: "GetProfiles", Mode: onviftest.Huge, Size: 8 << 20}, onvif.ErrTooLarge, "the GetProfiles answer is over 1048576 bytes"},
		{"slow answer", onviftest.Behavior{Op: "GetProfiles", Mode: onviftest.Slow, Delay: time.Minute}, onvif.ErrTimeout, "(GetProfiles)"},
		{"wrong element", onviftest.Behavior{Op: "GetCapabilities", Mode: onviftest.WrongElement}, onvif.ErrBadAnswer, "expected GetCapabilitiesResponse, got <GetHostnameResponse>"},
		{"stream not RTSP", onviftest.Behavior{Op: "GetStreamUri", Mode: onviftest.BadStreamURI}, onvif.ErrBadAnswer, "not rtsp://"},
		{"no video profile", onviftest.Behavior{Op: "GetProfiles", Mode: onviftest.NoVideo}, onvif.ErrBadAnswer, "no video profile"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d.Behave(c.b)
			defer d.Behave(onviftest.Behavior{})
			ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := onvif.Setup(ctx, onvif.SetupRequest{XAddr: d.XAddr(), Cred: cred(), SetClock: true}, synced, onvif.WithLoopback())
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("err %v, want %v containing %q", err, c.want, c.text)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Fatalf("took %v", el)
			}
			if d.Sets() != 0 {
				t.Fatal("the clock was set despite the error")
			}
			t.Logf("%s → %v (%v)", c.name, err, time.Since(start).Round(time.Millisecond))
		})
	}
}

func TestBadAddress(t *testing.T) {
	for _, x := range []string{"", "ftp://cam/onvif", "http://admin:pw@10.0.0.1/onvif/device_service", "http:///x", "http://cam:99999/x", "http://cam/\x00"} {
		if _, err := onvif.NewClient(x, cred()); !errors.Is(err, onvif.ErrInvalid) {
			t.Errorf("%q: err %v, want ErrInvalid", x, err)
		}
	}
}

func TestUnreachable(t *testing.T) {
	d := startDevice(t, onviftest.Config{})
	addr := d.XAddr()
	d.Close()
	_, err := onvif.Setup(t.Context(), onvif.SetupRequest{XAddr: addr, Cred: cred()}, synced, onvif.WithLoopback())
	if !errors.Is(err, onvif.ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
}

func TestDiscoveryStorm(t *testing.T) {
	d := startDevice(t, onviftest.Config{})
	// Duplicates and junk only: exactly one camera.
	d.SetStorm(onviftest.Storm{Copies: 100, Junk: 50, Unrelated: 50})
	dis := onvif.Discoverer{Target: d.DiscoveryAddr(), Wait: 700 * time.Millisecond}
	res, err := dis.Discover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Found) != 1 || res.Found[0].Endpoint != d.Endpoint() {
		t.Fatalf("found %+v", res.Found)
	}
	if res.Duplicates == 0 || res.Ignored == 0 {
		t.Fatalf("storm not counted: %+v", res)
	}
	t.Logf("duplicates storm: %d answers, %d duplicates, %d ignored, %v", res.Answers, res.Duplicates, res.Ignored, res.Took)

	// Many distinct answers: capped at MaxFound, spoofed ones never kept.
	// UDP on a loaded loopback drops datagrams: send far more than the cap.
	d.SetStorm(onviftest.Storm{Distinct: onvif.MaxFound + 300, Unrelated: 50, Junk: 20, Pace: true})
	dis.Wait = 1500 * time.Millisecond
	start := time.Now()
	res, err = dis.Discover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > dis.Wait+time.Second {
		t.Fatalf("discovery took %v", el)
	}
	if len(res.Found) != onvif.MaxFound || res.Ignored != res.Answers-onvif.MaxFound-res.Duplicates || res.Ignored < 1 {
		t.Fatalf("found %d (cap %d, %d answers)", len(res.Found), onvif.MaxFound, res.Answers)
	}
	for _, f := range res.Found {
		if strings.HasPrefix(f.Endpoint, "urn:uuid:11111111") {
			t.Fatalf("kept an unrelated answer: %+v", f)
		}
	}
	t.Logf("distinct storm: %d answers, %d found, %d ignored, %v", res.Answers, len(res.Found), res.Ignored, res.Took)
}

func TestDiscoveryNobodyAnswers(t *testing.T) {
	d := startDevice(t, onviftest.Config{})
	target := d.DiscoveryAddr()
	d.Close() // the port is closed: nobody answers
	dis := onvif.Discoverer{Target: target, Wait: 300 * time.Millisecond}
	res, err := dis.Discover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Found) != 0 || res.Took < 300*time.Millisecond || res.Took > time.Second {
		t.Fatalf("%+v", res)
	}
}

func TestDiscoveryStopsWithContext(t *testing.T) {
	d := startDevice(t, onviftest.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	dis := onvif.Discoverer{Target: d.DiscoveryAddr(), Wait: 5 * time.Second}
	start := time.Now()
	res, err := dis.Discover(ctx)
	if err != nil || time.Since(start) > time.Second || len(res.Found) != 1 {
		t.Fatalf("err %v after %v, %+v", err, time.Since(start), res)
	}
}

// TestDiscoverMulticast probes 239.255.255.250:3702 for real, inside a new
// network namespace where only lo exists.
func TestDiscoverMulticast(t *testing.T) {
	if !onviftest.InNetns(t) {
		return
	}
	d := startDevice(t, onviftest.Config{MulticastInterface: "lo", DiscoveryAddr: "-"})
	dis := onvif.Discoverer{Interface: "lo", Wait: 500 * time.Millisecond}
	res, err := dis.Discover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Found) != 1 || res.Found[0].XAddrs[0] != d.XAddr() {
		t.Fatalf("%+v", res)
	}
	first := res.Took
	t.Logf("multicast discovery: found %s after %v; collected for %v", res.Found[0].Endpoint, res.First, first)
	r2, err := onvif.Setup(t.Context(), onvif.SetupRequest{XAddr: res.Found[0].XAddrs[0], Cred: cred()}, synced, onvif.WithLoopback())
	if err != nil || r2.Sub == nil {
		t.Fatalf("set-up after multicast discovery: %v %+v", err, r2)
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	c := onvif.Credentials{Username: "admin", Password: "hunter2-secret"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "cred", c)
	for _, s := range []string{b.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v", c, c)} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "admin") {
			t.Fatalf("%q", s)
		}
	}
}

// The gateway reaches cameras on the LAN only: a public address or (outside
// the demo and tests) loopback is refused before any packet is sent.
func TestRefusesNonLANAddress(t *testing.T) {
	d := startDevice(t, onviftest.Config{})
	for _, x := range []string{d.XAddr(), "http://8.8.8.8/onvif/device_service", "http://[2001:db8::1]:8080/onvif/device_service", "http://localhost:1/onvif"} {
		_, err := onvif.Setup(t.Context(), onvif.SetupRequest{XAddr: x, Cred: cred()}, synced)
		if !errors.Is(err, onvif.ErrNotLAN) || !strings.Contains(err.Error(), "LAN only") {
			t.Fatalf("%s: %v", x, err)
		}
	}
	if d.Calls("GetSystemDateAndTime") != 0 {
		t.Fatal("the device was reached")
	}
	for _, a := range []string{"192.168.1.64:80", "10.1.2.3:80", "172.16.0.9:8000", "169.254.10.10:80", "[fe80::1]:80", "[fd00::5]:80"} {
		if err := onvif.LANOnly(a, false); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
}

// A camera that reports its media service on another host (NAT, a stale
// address) is still read on the host the installer chose; the gateway never
// follows it elsewhere.
func TestMediaServiceOnAnotherHost(t *testing.T) {
	d := startDevice(t, onviftest.Config{AdvertisedHost: "192.0.2.77"})
	res, err := onvif.Setup(t.Context(), onvif.SetupRequest{XAddr: d.XAddr(), Cred: cred()}, synced, onvif.WithLoopback())
	if err != nil || res.Main.URI != "rtsp://127.0.0.1:8554/cam/main" {
		t.Fatalf("%v %+v", err, res)
	}
	if d.Calls("GetProfiles") != 1 {
		t.Fatalf("GetProfiles answered %d times", d.Calls("GetProfiles"))
	}
}
