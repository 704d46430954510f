package config

import (
	"errors"
	"strings"
	"testing"
)

// TestCredentialReference: a camera's password lives in the vault and the
// config keeps "vault:camera/<id>/password" (issue 13, R32). Only the
// camera's own item on an rtsp/rtsps source is accepted; an error never
// quotes the credential value (someone may type the password there).
func TestCredentialReference(t *testing.T) {
	good := strings.Replace(base, `    source: "rtsp://admin:s3cret@192.168.1.20:554/stream1"  # 26`,
		`    source: "rtsp://admin@192.168.1.20:554/stream1"  # 26
    credential: "vault:camera/cam2/password"`, 1)
	c, err := Parse([]byte(good), "edgerec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cam := c.Cameras[1]; cam.Credential != CredentialRef("cam2") || cam.VaultName() != "camera/cam2/password" || cam.InlinePassword() {
		t.Fatalf("camera %+v", cam)
	}
	out, err := c.Marshal()
	if err != nil || !strings.Contains(string(out), "credential: vault:camera/cam2/password") {
		t.Fatalf("marshal: %v\n%s", err, out)
	}
	for name, tc := range map[string]struct{ from, to, want string }{
		"other camera's item": {`camera/cam2/password`, `camera/cam1/password`, `line 27: cameras[1].credential: want "vault:camera/cam2/password"`},
		"password typed here": {`vault:camera/cam2/password`, `Hunter2-typed`, `line 27: cameras[1].credential: want "vault:camera/cam2/password"`},
		"not rtsp":            {`rtsp://admin@192.168.1.20:554/stream1`, `v4l2:///dev/video0`, `cameras[1].credential: only an rtsp:// or rtsps:// source has a password`},
	} {
		_, err := Parse([]byte(strings.Replace(good, tc.from, tc.to, 1)), "edgerec.yaml")
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "Hunter2") {
			t.Errorf("%s: got %v, want …%s", name, err, tc.want)
		}
	}
}

// TestSplitPassword: the password comes out of the source URL, the user and
// the rest stay; WithPassword puts it back for the source to open.
func TestSplitPassword(t *testing.T) {
	for _, tc := range []struct{ in, stripped, pw string }{
		{"rtsp://admin:S3cret@10.0.0.2:554/s1?transport=tcp", "rtsp://admin@10.0.0.2:554/s1?transport=tcp", "S3cret"},
		{"rtsps://op:p%40ss%3Aw%2Frd@cam.local/live", "rtsps://op@cam.local/live", "p@ss:w/rd"},
		{"rtsp://:only-pw@h/x", "rtsp://@h/x", "only-pw"},
	} {
		s, pw, err := SplitPassword(URL(tc.in))
		if err != nil || string(s) != tc.stripped || pw != tc.pw {
			t.Errorf("SplitPassword(%q) = %q, %q, %v", tc.in, s, pw, err)
			continue
		}
		back, err := WithPassword(s, pw)
		if err != nil {
			t.Fatal(err)
		}
		if _, pw2, err := SplitPassword(back); err != nil || pw2 != tc.pw {
			t.Errorf("WithPassword(%q) = %q (password %q, %v)", s, back, pw2, err)
		}
	}
	for _, in := range []string{"rtsp://admin@h/x", "rtsp://h/x", "test://pattern?width=320", "v4l2:///dev/video0"} {
		if _, _, err := SplitPassword(URL(in)); !errors.Is(err, ErrNoPassword) {
			t.Errorf("SplitPassword(%q): %v", in, err)
		}
	}
	if _, _, err := SplitPassword("rtsp://u:S3cret@[::1"); err == nil || strings.Contains(err.Error(), "S3cret") {
		t.Errorf("bad URL: %v", err)
	}
}
