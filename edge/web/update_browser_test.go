package web

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserUpdateUpload (issue 16): an admin uploads a bundle on the
// Update page (file input → raw POST); the page says it waits for an
// approver; a refused bundle shows the reason. Nothing is applied.
func TestBrowserUpdateUpload(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/chromium"); serr != nil {
			t.Fatalf("chromium is required for the browser test (apt-get install chromium): %v", err)
		}
		chromium = "/usr/bin/chromium"
	}
	up := &testUpdates{}
	e := newEnv(t, envOptions{updates: up, noCams: true})
	e.setupAdmin()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.raucb"), filepath.Join(dir, "bad.raucb")
	if err := os.WriteFile(good, []byte("signed bundle v2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
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
		chromedp.SetValue(chromedp.CSS("#user"), "admin"), chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Submit(chromedp.CSS("#login-form")), chromedp.WaitVisible(chromedp.CSS("#who")),
		chromedp.Navigate(e.base+"/update"), chromedp.WaitVisible(chromedp.CSS("#app[data-ready='1']"))); err != nil {
		t.Fatalf("login and open /update: %v", err)
	}
	submit := func(path, want string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#update-file"), []string{path}),
			chromedp.Click(chromedp.CSS("#update-form button[type=submit]"))); err != nil {
			t.Fatalf("upload %s: %v", path, err)
		}
		expr := `document.getElementById("msg").textContent.includes(` + "`" + want + "`" + `)`
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("msg").textContent`))
			t.Fatalf("after uploading %s the page says %q, want %q", filepath.Base(path), msg, want)
		}
	}
	submit(bad, "does not verify")
	submit(good, "waits for approval")
	st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("update-status").textContent`))
	if !strings.Contains(st, `"slot"`) {
		t.Errorf("status %q", st)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.staged == "" || len(up.applied) != 0 {
		t.Fatalf("staged %q applied %v: want staged, nothing applied before an approver", up.staged, up.applied)
	}
}
