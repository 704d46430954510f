package web

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// R22: the back-off doubles from the first locked failure, is capped, and is
// forgotten after a quiet hour; memory stays bounded.
func TestR22ThrottleBackoff(t *testing.T) {
	clock := newFakeClock()
	p := throttlePolicy{free: 3, base: time.Second, max: 10 * time.Second, forget: time.Hour, maxKeys: 4}
	th := newThrottle(p, clock.Now)
	var got []time.Duration
	var bursts int
	for range 8 {
		d, burst := th.fail("k")
		got = append(got, d)
		if burst {
			bursts++
		}
	}
	want := []time.Duration{0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("locks %v, want %v", got, want)
		}
	}
	if bursts != 1 {
		t.Errorf("%d bursts, want 1", bursts)
	}
	if w := th.wait("k"); w != 10*time.Second {
		t.Errorf("wait %v", w)
	}
	clock.Advance(time.Hour)
	if w := th.wait("k"); w != 0 {
		t.Errorf("wait after an hour %v", w)
	}
	if d, _ := th.fail("k"); d != 0 {
		t.Errorf("failure after a quiet hour locked for %v", d)
	}
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		th.fail(k)
	}
	if n := len(th.entries); n > p.maxKeys {
		t.Errorf("%d keys kept, max %d", n, p.maxKeys)
	}
	th.reset("f")
	if th.wait("f") != 0 {
		t.Error("reset did not clear")
	}
}

func TestAddrKeyGroupsIPv6Prefix(t *testing.T) {
	a := addrKey(netip.MustParseAddr("2001:db8:1:2::1"))
	b := addrKey(netip.MustParseAddr("2001:db8:1:2:ffff::9"))
	if a != b || a != "2001:db8:1:2::/64" {
		t.Errorf("keys %q %q", a, b)
	}
	if k := addrKey(netip.MustParseAddr("::ffff:192.0.2.7")); k != "192.0.2.7" {
		t.Errorf("mapped v4 key %q", k)
	}
}

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := hashPassword([]byte("secret"), cheapArgon())
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := parsePasswordHash(h.String())
	if err != nil {
		t.Fatalf("parse %q: %v", h.String(), err)
	}
	if !parsed.verify([]byte("secret")) || parsed.verify([]byte("Secret")) {
		t.Error("round-tripped hash verifies wrongly")
	}
	if parsed.params != h.params {
		t.Errorf("params %+v, want %+v", parsed.params, h.params)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5"} {
		if _, err := parsePasswordHash(bad); !errors.Is(err, errBadHash) {
			t.Errorf("parse %q: %v", bad, err)
		}
	}
}

func TestParseLogin(t *testing.T) {
	for _, c := range []struct {
		ctype, body string
		want        error
	}{
		{"application/json", `{"user":"installer","password":"pw"}`, nil},
		{"application/json; charset=utf-8", `{"user":"installer","password":"pw"}`, nil},
		{"application/x-www-form-urlencoded", "user=installer&password=pw", nil},
		{"application/json", `{"user":"installer","password":"pw","admin":true}`, errLoginMalformed},
		{"application/json", `{"user":"installer","password":"pw"} {}`, errLoginMalformed},
		{"application/json", `{"user":"","password":"pw"}`, errLoginMalformed},
		{"application/json", `{"user":"a\u0000b","password":"pw"}`, errLoginMalformed},
		{"application/x-www-form-urlencoded", "user=a&user=b&password=pw", errLoginMalformed},
		{"application/x-www-form-urlencoded", "user=a", errLoginMalformed},
		{"text/plain", "x", errLoginMediaType},
		{"", "x", errLoginMediaType},
		{"application/json", `{"user":"` + strings.Repeat("u", 65) + `","password":"pw"}`, errLoginMalformed},
		{"application/json", strings.Repeat(" ", maxLoginBody+1), errLoginTooLarge},
	} {
		_, err := parseLogin(c.ctype, []byte(c.body))
		if !errors.Is(err, c.want) {
			t.Errorf("parseLogin(%q, %.40q) = %v, want %v", c.ctype, c.body, err, c.want)
		}
	}
}

// FuzzParseLogin: the login parser never panics, and what it accepts is
// within the limits and round-trips through JSON.
func FuzzParseLogin(f *testing.F) {
	f.Add("application/json", []byte(`{"user":"installer","password":"pw"}`))
	f.Add("application/x-www-form-urlencoded", []byte("user=installer&password=p%20w"))
	f.Add("application/json; charset=utf-8", []byte(`{"user":"\u00e9","password":"\ud800"}`))
	f.Add("multipart/form-data; boundary=x", []byte("--x--"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		req, err := parseLogin(ctype, body)
		if err != nil {
			return
		}
		if !validUserName(req.User) || req.Password == "" || len(req.Password) > maxPasswordLen || !utf8.ValidString(req.Password) {
			t.Fatalf("accepted out-of-limits request %+v", req)
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseLogin("application/json", b)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		if again != req {
			t.Fatalf("round trip %+v → %+v", req, again)
		}
	})
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{formatBytes(512), "512 B"},
		{formatBytes(1536), "1.5 KiB"},
		{formatBytes(8 << 30), "8.0 GiB"},
		{formatDuration(0), "—"},
		{formatDuration(45 * time.Second), "45s"},
		{formatDuration(200 * time.Minute), "3h 20m"},
		{formatDuration(50 * time.Hour), "2d 2h"},
		{formatTime(time.Time{}), "—"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
