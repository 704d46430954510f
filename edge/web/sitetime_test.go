package web

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Issue 18: times for people at the site are local with the offset, on
// both sides of a daylight-saving change.
func TestSiteTimeFormat(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		utc  string
		loc  *time.Location
		want string
	}{
		{"2026-03-29T00:59:59Z", berlin, "2026-03-29 01:59:59 +01:00"},
		{"2026-03-29T01:00:00Z", berlin, "2026-03-29 03:00:00 +02:00"}, // spring forward
		{"2026-10-25T00:59:59Z", berlin, "2026-10-25 02:59:59 +02:00"},
		{"2026-10-25T01:00:00Z", berlin, "2026-10-25 02:00:00 +01:00"}, // fall back: 02:xx twice, told apart by the offset
		{"2026-12-01T12:00:00Z", nil, "2026-12-01 12:00:00 UTC"},
		{"2026-12-01T12:00:00Z", time.UTC, "2026-12-01 12:00:00 UTC"},
	} {
		at, _ := time.Parse(time.RFC3339, c.utc)
		if got := siteTime(at, c.loc); got != c.want {
			t.Errorf("siteTime(%s, %v) = %q, want %q", c.utc, c.loc, got, c.want)
		}
	}
}

// Issue 18: the page shows every time in the site's zone with its offset,
// whatever the zone of the technician's browser (here America/New_York),
// converts the date-time inputs back at the offset valid on that day, and
// the review report is in the site's zone too.
func TestBrowserSiteTime(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/chromium"); serr != nil {
			t.Fatalf("chromium is required for the browser test (apt-get install chromium): %v", err)
		}
		chromium = "/usr/bin/chromium"
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{noCams: true, loc: berlin})
	admin := e.setupAdmin()

	// The review report (API, text) is in the site's zone.
	var rev struct {
		Text string `json:"text"`
	}
	e.must(200, "GET", "/api/v1/review", nil, admin, &rev)
	if !regexp.MustCompile(`permission review at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00`).MatchString(rev.Text) {
		t.Fatalf("review report not in Europe/Berlin: %q", rev.Text)
	}

	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true), // test only: the device cert is self-signed
		chromedp.Env("TZ=America/New_York"),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	ctx, cancel := context.WithTimeout(bctx, 120*time.Second)
	defer cancel()
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("eval %s: %v", expr, err)
		}
		return v
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SetValue(chromedp.CSS("#user"), "admin"), chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Submit(chromedp.CSS("#login-form")), chromedp.WaitVisible(chromedp.CSS("#who")),
		chromedp.Navigate(e.base+"/users"), chromedp.WaitVisible(chromedp.CSS("#app[data-ready='1']"))); err != nil {
		t.Fatalf("login and open /users: %v", err)
	}
	if got := eval(`Intl.DateTimeFormat().resolvedOptions().timeZone`); got != "America/New_York" {
		t.Fatalf("the browser runs in %q, want America/New_York (the test needs a zone other than the site's)", got)
	}
	if got := eval(`document.getElementById("tz-note").textContent`); !strings.Contains(got, "Europe/Berlin") {
		t.Fatalf("zone note %q does not name Europe/Berlin", got)
	}
	// The admin's last login in the users table: site time with offset.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.querySelector('tr[data-user-row="admin"] td:nth-child(5)')`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("users table: %v", err)
	}
	row := eval(`document.querySelector('tr[data-user-row="admin"]').textContent`)
	if !regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0[12]:00`).MatchString(row) {
		t.Fatalf("admin row %q shows no Europe/Berlin time with offset", row)
	}
	for _, c := range []struct{ in, want string }{
		{"2026-03-29T00:59:59Z", "2026-03-29 01:59:59 +01:00"},
		{"2026-03-29T01:00:00Z", "2026-03-29 03:00:00 +02:00"},
		{"2026-10-25T00:30:00Z", "2026-10-25 02:30:00 +02:00"},
		{"2026-10-25T01:30:00Z", "2026-10-25 02:30:00 +01:00"},
	} {
		if got := eval(fmt.Sprintf(`window.edgerecTime.fmt(%q)`, c.in)); got != c.want {
			t.Errorf("page shows %s as %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"2026-12-01T12:00:00", "2026-12-01T11:00:00.000Z"},
		{"2026-07-01T12:00:00", "2026-07-01T10:00:00.000Z"},
		{"2026-03-29T03:00:00", "2026-03-29T01:00:00.000Z"}, // first minute of summer time
		{"2026-03-29T01:59:00", "2026-03-29T00:59:00.000Z"}, // last minute of winter time
	} {
		if got := eval(fmt.Sprintf(`window.edgerecTime.fromInput(%q).toISOString()`, c.in)); got != c.want {
			t.Errorf("page reads input %s as %s, want %s", c.in, got, c.want)
		}
		// And back: the input shows what was typed.
		if got := eval(fmt.Sprintf(`window.edgerecTime.localInput(new Date(%q))`, c.want)); got != c.in {
			t.Errorf("input for %s shows %s, want %s", c.want, got, c.in)
		}
	}
}
