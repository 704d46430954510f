package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/source/rtsprig"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/storage"
)

// TestBrowserLiveSubstream (issue 18, R2, D3): a camera with a main
// (640×360) and a sub stream (320×180) from the RTSP test rig, each
// published by ffmpeg, and a fill mask. The installer's live view in
// headless Chromium plays the sub stream (its size) with the masked
// region dark (the sub stream is decoded, masked and re-encoded, never
// passed through); the recording holds the main stream (decoded: 640×360).
func TestBrowserLiveSubstream(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required for the browser test (scripts/deps.sh installs it): %v", err)
	}
	rig, err := rtsprig.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rig.Stop()
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	for path, size := range map[string]string{"main": "640x360", "sub": "320x180"} {
		p, err := rig.Publish(pctx, path, rtsprig.FFmpegArgs(size, 15))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
	}
	data := filepath.Join(t.TempDir(), "gw")
	cfgPath := filepath.Join(t.TempDir(), "edgerec.yaml")
	body := `device: {id: gw-sub}
storage: {data_dir: "` + data + `", ring_size: 32MiB, flush_interval: 200ms}
cameras:
  - id: cam1
    name: Shop floor
    source: "` + rig.URL("main") + `"
    sub_source: "` + rig.URL("sub") + `"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    keyframe_interval: 1s
    masks:
      - {name: neighbour, style: fill, polygon: [[0.55,0.5],[0.95,0.5],[0.95,0.95],[0.55,0.95]]}
lan: {listen: "127.0.0.1:18459"}
`
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-sub", "--config", cfgPath); code != 0 {
		t.Fatal(errOut)
	}
	// An admin, the first approver and an installer (live view to aim).
	ctx := context.Background()
	ps, err := policy.Open(ctx, policy.Config{DataDir: data}, policy.Deps{Sealer: testVault(t, data)})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery"
	admin, err := ps.Bootstrap(ctx, "alice", []byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, role perm.Role, approver string) string {
		id, err := ps.CreateUser(ctx, admin.ID, name, []byte("one-time from the admin"))
		if err != nil {
			t.Fatal(err)
		}
		if err := ps.SetPassword(ctx, id, id, []byte("one-time from the admin"), []byte(pw)); err != nil {
			t.Fatal(err)
		}
		g, err := ps.Request(ctx, admin.ID, grants.Request{Action: grants.AssignRole, Purpose: "staff", Validity: 24 * time.Hour, Subject: id, Role: string(role)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ps.Approve(ctx, approver, g.ID); err != nil {
			t.Fatal(err)
		}
		return id
	}
	boss := mk("bob", perm.Approver, admin.ID)
	mk("ivy", perm.Installer, boss)
	ps.Close()

	d := startTestDaemon(t, filepath.Join(data, "edgerec.yaml"))
	stopped := false
	defer func() {
		if !stopped {
			d.stop(t)
		}
	}()

	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("ignore-certificate-errors", true), // test only: the device cert is self-signed
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bc, cancel := context.WithTimeout(bctx, 150*time.Second)
	defer cancel()
	if err := chromedp.Do(bc,
		chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SetValue(chromedp.CSS("#user"), "ivy"), chromedp.SetValue(chromedp.CSS("#password"), pw),
		chromedp.Submit(chromedp.CSS("#login-form")), chromedp.WaitVisible(chromedp.CSS("#who"))); err != nil {
		t.Fatalf("browser: %v\n%s", err, d.se.String())
	}
	// A viewer is given the sub stream once it has delivered a picture
	// (until then the main stream: someone aiming a camera gets a
	// picture at once). Wait for it: the snapshot, which comes from the sub
	// stream too, shows its size.
	deadline := time.Now().Add(60 * time.Second)
	for {
		w, err := chromedp.Run(bc, chromedp.Evaluate[string](`fetch("/api/v1/cameras/cam1/snapshot").then(r => r.ok ? r.blob().then(b => createImageBitmap(b)).then(i => i.width + "x" + i.height) : "status " + r.status)`, chromedp.EvalAwaitPromise))
		if err == nil && w == "320x180" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sub stream delivered no picture in 60 s (snapshot %q, %v)\n%s", w, err, d.se.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err := chromedp.Do(bc,
		chromedp.Navigate(d.base+"/live"), chromedp.WaitVisible(chromedp.CSS("#live-start")),
		chromedp.SetValue(chromedp.CSS("#live-camera"), "cam1"), chromedp.Click(chromedp.CSS("#live-start"))); err != nil {
		t.Fatalf("browser: %v\n%s", err, d.se.String())
	}
	if _, err := chromedp.Run(bc, chromedp.Poll[bool](`(() => { const v = document.getElementById("live-video"); return v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 15; })()`,
		chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		msg, _ := chromedp.Run(bc, chromedp.Evaluate[string](`(document.getElementById("msg")||{}).textContent`))
		t.Fatalf("live video does not play: %v; page says %q", err, msg)
	}
	size, err := chromedp.Run(bc, chromedp.Evaluate[string](`(() => { const v = document.getElementById("live-video"); return v.videoWidth + "x" + v.videoHeight; })()`))
	if err != nil || size != "320x180" {
		t.Fatalf("live view plays %q (%v), want the 320x180 sub stream", size, err)
	}
	// Mean luma inside the mask (its inner part) and in the same-sized
	// region left of it, in the decoded frame the browser shows.
	lumas, err := chromedp.Run(bc, chromedp.Evaluate[string](`(() => {
	  const v = document.getElementById("live-video"); const c = document.createElement("canvas");
	  c.width = v.videoWidth; c.height = v.videoHeight; const g = c.getContext("2d"); g.drawImage(v, 0, 0);
	  const mean = (fx, fy, fw, fh) => { const d = g.getImageData(Math.round(c.width*fx), Math.round(c.height*fy), Math.round(c.width*fw), Math.round(c.height*fh)).data;
	    let s = 0; for (let i = 0; i < d.length; i += 4) { s += 0.299*d[i] + 0.587*d[i+1] + 0.114*d[i+2]; } return Math.round(s / (d.length/4)); };
	  return mean(0.62, 0.56, 0.28, 0.34) + " " + mean(0.08, 0.56, 0.28, 0.34);
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	var inside, outside int
	if _, err := fmt.Sscan(lumas, &inside, &outside); err != nil {
		t.Fatal(lumas, err)
	}
	if inside > 40 || outside < 60 {
		t.Errorf("live sub stream: mean luma %d inside the mask (want dark), %d outside (want the picture)", inside, outside)
	}
	t.Logf("live view: %s sub stream, luma inside the mask %d, outside %d", size, inside, outside)

	d.stop(t)
	stopped = true
	store, err := storage.Open(ctx, data, storage.Options{Keys: dirKeys(data, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	dec, err := codec.NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	w, h, pictures := 0, 0, 0
	_ = store.ReadFrames(ctx, "cam1", time.Now().Add(-5*time.Minute), time.Now(), func(f storage.Frame) error {
		pic, err := dec.Decode(f.Data)
		if err == nil && pic != nil {
			w, h = pic.Width, pic.Height
			pictures++
		}
		return nil
	})
	if pictures < 15 || w != 640 || h != 360 {
		t.Fatalf("recording: %d pictures of %dx%d, want the 640x360 main stream", pictures, w, h)
	}
	t.Logf("recording: %d pictures of %dx%d (main stream)", pictures, w, h)
}
