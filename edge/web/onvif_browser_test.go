package web

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserONVIF: the installer, in headless Chromium, searches the LAN
// (the loopback test device answers), picks the camera, types its
// credentials and gets the camera form's source URL filled in with the main
// stream and the sub stream shown.
func TestBrowserONVIF(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required for the browser test (scripts/deps.sh installs it): %v", err)
	}
	e, dev, _ := onvifEnv(t)
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
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	want := "rtsp://onvifadmin:Cam-Secret-42!@127.0.0.1:8554/cam/main"
	start := time.Now()
	err = chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SetValue(chromedp.CSS("#user"), "installer"), chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Submit(chromedp.CSS("#login-form")), chromedp.WaitVisible(chromedp.CSS("#who")),
		chromedp.Navigate(e.base+"/cameras"), chromedp.WaitVisible(chromedp.CSS("#onvif-card")),
		chromedp.Click(chromedp.CSS("#onvif-discover")),
		chromedp.WaitVisible(chromedp.CSS(`li.onvif-found[data-xaddr="`+dev.XAddr()+`"] button`)),
		chromedp.Click(chromedp.CSS(`li.onvif-found[data-xaddr="`+dev.XAddr()+`"] button`)),
		chromedp.SetValue(chromedp.CSS("#onvif-user"), "onvifadmin"), chromedp.SetValue(chromedp.CSS("#onvif-pass"), camPassword),
		chromedp.Click(chromedp.CSS("#onvif-read")))
	if err == nil {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#camera-form [name=source]").value === `+jsString(want), chromedp.WithPollingTimeout(20*time.Second)))
	}
	if err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("onvif-status").textContent + " | " + document.getElementById("onvif-result").textContent`))
		t.Fatalf("browser: %v; page says %q", err, msg)
	}
	took := time.Since(start)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("onvif-sub").value + "|" + document.getElementById("onvif-result").textContent + "|" + document.getElementById("onvif-pass").value`))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^rtsp://127\.0\.0\.1:8554/cam/sub\|EdgerecTest ET-2MP, firmware V5\.7\.3 build 251101, serial ET2M-000123 — main H264 1920×1080 @ 25 fps, sub 640×360 — clock set \(was -5(399|400|401) s off\)\. The source URL below is filled in; choose an id and zone and save\.\|$`).MatchString(got) {
		t.Fatalf("page shows %q", got)
	}
	if dir := os.Getenv("EDGEREC_SCREENSHOTS"); dir != "" {
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90)); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "onvif-add-camera.png"), png, 0o644)
		}
	}
	t.Logf("login → search → pick → read → form filled: %v", took)
}

func jsString(s string) string {
	b := []byte{'"'}
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}
