package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"rtsp://u:p@h/x":                  "rtsp://REDACTED@h/x",
		"rtsp://user@h/x":                 "rtsp://REDACTED@h/x",
		"rtsp://h/x?user=a&password=b":    "rtsp://h/x?password=REDACTED&user=a",
		"rtsp://h/x?TOKEN=abc":            "rtsp://h/x?TOKEN=REDACTED",
		"v4l2:///dev/video0?width=640":    "v4l2:///dev/video0?width=640",
		"test://pattern?width=320&fps=15": "test://pattern?width=320&fps=15",
		"rtsp://u:p@[::1":                 "rtsp://REDACTED@[::1",
		"rtsp://u:p@h:bad/x?token=s3":     "rtsp://REDACTED@h:bad/x?REDACTED",
		"rtsp://h/x?a=%zz&token=s3":       "rtsp://h/x?REDACTED",
		"mqtts://broker.example.com:88":   "mqtts://broker.example.com:88",
		"mqtts://dev:pw@broker:8883":      "mqtts://REDACTED@broker:8883",
	} {
		got := URL(in)
		if got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
		for _, secret := range []string{":p@", "pw", "s3", "=b", "abc"} {
			if strings.Contains(in, secret) && strings.Contains(got, secret) {
				t.Errorf("URL(%q) = %q shows %q", in, got, secret)
			}
		}
	}
}

func FuzzURL(f *testing.F) {
	f.Add("rtsp://admin:hunter2@cam/x?password=hunter2")
	f.Add("rtsp://admin:hunter2@[::1")
	f.Fuzz(func(t *testing.T, s string) {
		if !strings.Contains(s, "hunter2") {
			s = "rtsp://admin:hunter2@" + s
		}
		// The password in the userinfo position never survives.
		if got := URL("rtsp://admin:hunter2@cam/" + strings.ReplaceAll(s, "hunter2", "")); strings.Contains(got, "hunter2") {
			t.Fatalf("URL shows the password: %q", got)
		}
	})
}

func TestUserinfo(t *testing.T) {
	in := `line 3: source "rtsp://admin:s3cret@10.0.0.5/x" and mqtts://u:p@b:8883`
	want := `line 3: source "rtsp://REDACTED@10.0.0.5/x" and mqtts://REDACTED@b:8883`
	if got := Userinfo(in); got != want {
		t.Fatalf("Userinfo = %q", got)
	}
}
