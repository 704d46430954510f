package web

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserSettings (issue 18): an installer opens Settings from the
// nav, saves NTP servers (the page says a restart is needed and shows the
// notice), is refused an allowlist that would lock him out (the reason is
// shown, nothing written), lengthens a camera's retention (in force) and
// shortens it (waits for an approver; the file keeps the longer value).
func TestBrowserSettings(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/chromium"); serr != nil {
			t.Fatalf("chromium is required for the browser test (apt-get install chromium): %v", err)
		}
		chromium = "/usr/bin/chromium"
	}
	e := newEnv(t, envOptions{settings: true})
	e.makeTeam()
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("ignore-certificate-errors", true), // test only: the device cert is self-signed
		chromedp.UserDataDir(t.TempDir()),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	ctx, cancel := context.WithTimeout(bctx, 120*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SetValue(chromedp.CSS("#user"), "installer"), chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Submit(chromedp.CSS("#login-form")), chromedp.WaitVisible(chromedp.CSS("#who")),
		chromedp.Click(chromedp.CSS(`a[href="/settings"]`)), chromedp.WaitVisible(chromedp.CSS("#app[data-ready='1']")),
		chromedp.WaitVisible(chromedp.CSS(`#ret-table tr[data-camera="cam1"] input`))); err != nil {
		t.Fatalf("login and open Settings from the nav: %v", err)
	}
	says := func(want string) {
		t.Helper()
		expr := `document.getElementById("msg").textContent.includes(` + "`" + want + "`" + `)`
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("msg").textContent`))
			t.Fatalf("the page says %q, want %q", msg, want)
		}
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#ntp-servers"), "ntp1.example.net\n192.0.2.10"),
		chromedp.Click(chromedp.CSS("#ntp-form button[type=submit]"))); err != nil {
		t.Fatal(err)
	}
	says("restart needed")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!document.querySelector("#set-ntp [data-restart]").classList.contains("hidden")`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatal("no restart-needed notice on the NTP section")
	}

	before := e.configBytes()
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#allow-entries"), "10.0.0.0/8"),
		chromedp.Click(chromedp.CSS("#allowlist-form button[type=submit]"))); err != nil {
		t.Fatal(err)
	}
	says("lock you out")
	if !bytes.Equal(e.configBytes(), before) {
		t.Fatal("a refused allowlist was written")
	}

	retention := func(v string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`#ret-table tr[data-camera="cam1"] input`), v),
			chromedp.Click(chromedp.CSS(`#ret-table tr[data-camera="cam1"] button`))); err != nil {
			t.Fatal(err)
		}
	}
	retention("60d")
	says("in force")
	// The page reloads the table after a save: wait for the new value.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#ret-table tr[data-camera="cam1"] td:nth-child(2)').textContent === "60d"`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatal("the table does not show the new retention")
	}
	retention("40d")
	says("waiting for approval")
	if !strings.Contains(string(e.configBytes()), "retention: 60d") {
		t.Fatalf("config after the shortening request:\n%s", e.configBytes())
	}
}
