package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgerec/edgerec/storage"
)

// kpDemoDaemon runs `edgerec run --demo` in-process on a free loopback
// port and returns it with its one-time setup code.
func kpDemoDaemon(t *testing.T, dir string) (*testDaemon, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &testDaemon{cancel: cancel, done: make(chan int, 1), so: &syncBuf{}, se: &syncBuf{}}
	go func() {
		d.done <- dispatch(ctx, &env{stdout: d.so, stderr: d.se, getenv: func(string) string { return "" }},
			[]string{"run", "--demo", "--demo-dir", dir, "--listen", "127.0.0.1:0"})
	}()
	var code string
	for i := 0; i < 300 && (d.base == "" || code == ""); i++ {
		out := d.so.String()
		if m := regexp.MustCompile(`LAN page:\s+(https://\S+)/`).FindStringSubmatch(out); m != nil {
			d.base = m[1]
		}
		if m := regexp.MustCompile(`setup code: (\S+)`).FindStringSubmatch(out); m != nil {
			code = m[1]
		}
		select {
		case c := <-d.done:
			cancel()
			t.Fatalf("demo exited %d:\n%s\n%s", c, d.so.String(), d.se.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if d.base == "" || code == "" {
		cancel()
		t.Fatalf("demo did not start:\n%s\n%s", d.so.String(), d.se.String())
	}
	return d, code
}

// Issue 13, in a real headless Chromium: the demo runs on the file
// provider; after the first admin is created and signs in, the dashboard
// shows a visible banner with "keys on disk: not protected against theft of
// the disk", the same sentence in the warning list, and the device card
// names the provider.
func TestBrowserFileProviderWarning(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/chromium"); serr != nil {
			t.Fatalf("chromium is required for the browser test (apt-get install chromium): %v", err)
		}
		chromium = "/usr/bin/chromium"
	}
	d, code := kpDemoDaemon(t, filepath.Join(t.TempDir(), "demo"))
	defer d.stop(t)

	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true), // test only: the device cert is self-signed
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 120*time.Second)
	defer cancel()
	step := func(name string, acts ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, acts...); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, d.se.String())
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("eval %s: %v", expr, err)
		}
		return v
	}
	const pw = "demo admin password 1"
	step("setup", chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(chromedp.CSS("#setup-form")),
		chromedp.SetValue(chromedp.CSS("#code"), code), chromedp.SetValue(chromedp.CSS("#user"), "admin"),
		chromedp.SetValue(chromedp.CSS("#password"), pw), chromedp.Submit(chromedp.CSS("#setup-form")),
		chromedp.WaitVisible(chromedp.CSS("#dashboard")))
	step("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	// Not before signing in: the login page tells an anonymous caller nothing.
	if s := eval(`document.body.innerText`); strings.Contains(s, storage.FileProviderWarning) {
		t.Fatalf("the login page shows device health to anyone: %q", s)
	}
	step("login", chromedp.SetValue(chromedp.CSS("#user"), "admin"), chromedp.SetValue(chromedp.CSS("#password"), pw),
		chromedp.Submit(chromedp.CSS("#login-form")), chromedp.WaitVisible(chromedp.CSS("#dashboard")),
		chromedp.WaitVisible(chromedp.CSS("#key-provider-banner")))

	// What a person sees: innerText only holds rendered, visible text.
	banner := eval(`document.getElementById("key-provider-banner").innerText`)
	if !strings.Contains(banner, "keys on disk: not protected against theft of the disk") || !strings.Contains(banner, "file") {
		t.Fatalf("banner says %q", banner)
	}
	if v := eval(`(() => { const r = document.getElementById("key-provider-banner").getBoundingClientRect();
		return r.width > 200 && r.height > 10 && r.top < window.innerHeight ? "visible" : JSON.stringify(r); })()`); v != "visible" {
		t.Fatalf("banner is not in view: %s", v)
	}
	if s := eval(`document.querySelector('[data-field="key_provider"]').innerText`); !strings.HasPrefix(s, "file") {
		t.Fatalf("device card says root key %q", s)
	}
	// The warning list keeps the sentence after the page's own refresh
	// (app.js rewrites it from /api/v1/health every 5 s).
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status") !== null &&
		Array.from(document.querySelectorAll("#warning-list li")).some(li => li.innerText.includes("not protected against theft of the disk"))`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("warning list: %v", err)
	}
	time.Sleep(6 * time.Second) // one health refresh
	if s := eval(`document.getElementById("warning-list").innerText + " | " + document.getElementById("key-provider-banner").innerText`); strings.Count(s, storage.FileProviderWarning) < 2 {
		t.Fatalf("after a refresh the page says %q", s)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		if dir := os.Getenv("EDGEREC_SCREENSHOTS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "file-provider-banner.png"), png, 0o644)
		}
	}
}
