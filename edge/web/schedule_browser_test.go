package web

import (
	"context"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserSchedule (issue 18, R30, R27): in headless Chromium the
// installer edits a camera and types a recording schedule in site time;
// the page says it waits for an approver (recording less is a coverage
// change) and the camera card shows the pending request; after another
// person approves, the card says when the camera records. A line the page
// cannot read is refused with its line number before anything is sent.
func TestBrowserSchedule(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required for the browser test (scripts/deps.sh installs it): %v", err)
	}
	e := newEnv(t, envOptions{})
	tm := e.makeTeam()
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true), // test only: the device cert is self-signed
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1100))
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	ctx, cancel := context.WithTimeout(bctx, 120*time.Second)
	defer cancel()
	msg := func() string {
		s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("msg").textContent`))
		return s
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("waiting for %s: %v; page says %q", what, err, msg())
		}
	}
	edit := `Array.from(document.querySelectorAll('[data-camera-card="cam1"] button')).find(b => b.textContent === "Edit").click(); true`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SetValue(chromedp.CSS("#user"), "installer"), chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Submit(chromedp.CSS("#login-form")), chromedp.WaitVisible(chromedp.CSS("#who")),
		chromedp.Navigate(e.base+"/cameras"), chromedp.WaitVisible(chromedp.CSS(`[data-camera-card="cam1"]`))); err != nil {
		t.Fatal(err)
	}
	poll("the card says always", `document.querySelector('[data-camera-card="cam1"]').textContent.includes("records always")`)
	// A line the page cannot read.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](edit)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#schedule-text"), "weekdays from eight"),
		chromedp.Click(chromedp.CSS(`#camera-form button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	poll("the bad line refused", `document.getElementById("msg").textContent.includes("line 1")`)
	// The schedule: waits for an approver.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#schedule-text"), "mon,tue,wed,thu,fri 08:00-19:00"),
		chromedp.Click(chromedp.CSS(`#camera-form button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	poll("waiting for approval", `document.getElementById("msg").textContent.includes("an approver must approve it")`)
	poll("the card shows the request", `document.querySelector('[data-camera-card="cam1"]').textContent.includes("schedule_reduce: waiting for approval")`)
	var list []grantView
	e.must(http.StatusOK, "GET", "/api/v1/grants", nil, tm.cookies["approver"], &list)
	id := ""
	for _, g := range list {
		if g.Kind == "schedule_reduce" && g.State == "requested" {
			id = g.ID
		}
	}
	if id == "" {
		t.Fatalf("no schedule request: %+v", list)
	}
	e.must(http.StatusOK, "POST", "/api/v1/grants/"+id+"/approve", nil, tm.cookies["approver"], nil)
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-camera-card="cam1"]`))); err != nil {
		t.Fatal(err)
	}
	poll("the card says when", `document.querySelector('[data-camera-card="cam1"]').textContent.includes("records mon,tue,wed,thu,fri 08:00-19:00")`)
}
