package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/onvif"
)

// The demo's ONVIF camera: "Find cameras" finds it and set-up reads it.
func TestDemoONVIFCamera(t *testing.T) {
	dc := daemonConfig{Demo: true, Config: config.Demo(t.TempDir())}
	f, stop, err := onvifFinder(dc, func() bool { return false }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := f.Discover(ctx)
	if err != nil || len(res.Found) != 1 || res.Found[0].Name != "Demo ONVIF camera" {
		t.Fatalf("discover: %v %+v", err, res)
	}
	s, err := f.Setup(ctx, onvif.SetupRequest{XAddr: res.Found[0].XAddrs[0], Cred: onvif.Credentials{Username: "admin", Password: "secret-pass"}, SetClock: true})
	if err != nil || s.Main.URI != "rtsp://127.0.0.1:8554/demo/main" || s.Sub == nil || s.Sub.URI != "rtsp://127.0.0.1:8554/demo/sub" || s.Clock.Set {
		t.Fatalf("setup: %v %+v", err, s)
	}
}

func TestONVIFFromConfig(t *testing.T) {
	c := config.Demo(t.TempDir())
	c.ONVIF = config.ONVIF{Interface: "eth1", DiscoveryWait: config.Duration(2 * time.Second)}
	f, stop, err := onvifFinder(daemonConfig{Config: c}, nil, slog.New(slog.DiscardHandler))
	defer stop()
	of, ok := f.(*onvif.Finder)
	if err != nil || !ok || of.Discoverer.Interface != "eth1" || of.Discoverer.Wait != 2*time.Second || of.Discoverer.Target != "" {
		t.Fatalf("%v %+v", err, f)
	}
	c.ONVIF.Disabled = true
	f, _, err = onvifFinder(daemonConfig{Config: c}, nil, slog.New(slog.DiscardHandler))
	if err != nil || f != nil {
		t.Fatalf("disabled: %v %v", err, f)
	}
}
