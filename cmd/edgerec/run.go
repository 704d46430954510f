package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/record"
	"github.com/edgerec/edgerec/edge/source"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/storage"
)

// daemonConfig is what the daemon needs, converted from the YAML config in
// one place (fromConfig).
type daemonConfig struct {
	DeviceID       string
	DataDir        string
	RingSize       int64
	FlushInterval  time.Duration
	RetentionFloor time.Duration
	Listen         string
	Allowlist      []netip.Prefix
	Cameras        []cameraSpec
	Demo           bool
	SegmentLength  time.Duration // 0 = the segmenter's default (60 s)

	GrantMaxValidity time.Duration
	StaleAfter       time.Duration
	Uplink           *config.Uplink // nil: no uplink
}

type cameraSpec struct {
	ID, Name, Source string
	Masks            []mask.Mask
	Retention        time.Duration
	BitrateKbps      int
	KeyframeInterval time.Duration
	// Refused is set when policy forbids recording this camera (R1); the
	// camera is not started and its health says why.
	Refused string
}

const demoRingSize = 256 << 20

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run", "[--config FILE] [--demo]")
	cfgPath := fs.String("config", "", "config file (YAML)")
	demo := fs.Bool("demo", false, "run the embedded demo (./var/demo, synthetic camera)")
	demoDir := fs.String("demo-dir", "var/demo", "data dir for --demo")
	listen := fs.String("listen", "", "override lan.listen (host:port)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var (
		dc  daemonConfig
		err error
	)
	switch {
	case *demo && *cfgPath != "":
		return usageError{"--demo and --config are exclusive"}
	case *demo:
		dc, err = demoConfig(*demoDir)
	case *cfgPath != "":
		dc, err = loadConfig(*cfgPath)
	default:
		return usageError{"give --config FILE, or --demo to run the embedded demo"}
	}
	if err != nil {
		return err
	}
	if *listen != "" {
		dc.Listen = *listen
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return runDaemon(ctx, e, dc, log)
}

func runDaemon(ctx context.Context, e *env, dc daemonConfig, log *slog.Logger) error {
	if err := prepareDataDir(dc); err != nil {
		return err
	}
	store, err := storage.Open(ctx, dc.DataDir, storage.Options{FlushInterval: dc.FlushInterval, Logger: log.With("part", "storage")})
	if errors.Is(err, storage.ErrNotProvisioned) && dc.Demo {
		log.Info("first demo start: provisioning", "dir", dc.DataDir, "ring_bytes", dc.RingSize)
		if err := storage.Provision(ctx, dc.DataDir, storage.ProvisionOptions{RingSize: dc.RingSize}); err != nil {
			return fmt.Errorf("provision demo store in %s: %w", dc.DataDir, err)
		}
		store, err = storage.Open(ctx, dc.DataDir, storage.Options{FlushInterval: dc.FlushInterval, Logger: log.With("part", "storage")})
	}
	if errors.Is(err, storage.ErrNotProvisioned) {
		return fmt.Errorf("data dir %s is not provisioned: run `edgerec provision --data %s --device-id %s` first: %w", dc.DataDir, dc.DataDir, dc.DeviceID, err)
	}
	if err != nil {
		return fmt.Errorf("open store in %s: %w", dc.DataDir, err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing store", "err", err)
		} else {
			log.Info("store closed and synced")
		}
	}()

	ps, err := openPolicy(ctx, dc, log)
	if err != nil {
		return err
	}
	defer ps.Close()

	tracker := health.NewTracker(dc.DeviceID, version, nil)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(dc.Cameras)+2)
	auditDevice(ctx, ps, tracker, log, audit.Event{Action: "device.start", TargetKind: audit.KindDevice, Result: "ok", Detail: "firmware " + version})
	defer auditDevice(context.WithoutCancel(ctx), ps, tracker, log, audit.Event{Action: "device.stop", TargetKind: audit.KindDevice, Result: "ok"})

	if up := startUplink(dc, tracker, ps, log); up != nil {
		wg.Add(2)
		go func() { defer wg.Done(); _ = up.Run(ctx) }()
		go func() { defer wg.Done(); pumpAudit(ctx, dc.DataDir, ps, up, log.With("part", "uplink")) }()
	}

	cams := map[string]*pipeline.Camera{}
	for _, cs := range dc.Cameras {
		if cs.Refused != "" {
			log.Warn("camera refused by policy", "camera", cs.ID, "reason", cs.Refused)
			tracker.SetCamera(health.Camera{ID: cs.ID, Name: cs.Name, State: health.StateRefused, Reason: cs.Refused, Masked: len(cs.Masks) > 0})
			tracker.Warn("refused:"+cs.ID, fmt.Sprintf("camera %s refused: %s", cs.ID, cs.Refused))
			// R1: the refusal is audited (ids only; the reason names the rule).
			auditDevice(ctx, ps, tracker, log, audit.Event{Action: "camera.refuse", TargetKind: audit.KindCamera, Target: cs.ID, Result: "refused", Detail: refusalRule(cs.Refused)})
			continue
		}
		cam, err := pipeline.NewCamera(pipeline.CameraConfig{
			ID: cs.ID, Name: cs.Name, Source: cs.Source, Masks: cs.Masks,
			BitrateKbps: cs.BitrateKbps, KeyframeInterval: cs.KeyframeInterval,
		}, pipeline.Deps{Health: tracker, Logger: log.With("camera", cs.ID)})
		if err != nil {
			return err
		}
		cams[cs.ID] = cam
		rec := record.New(record.Config{
			Camera:     cs.ID,
			MaxSegment: dc.SegmentLength,
			Logger:     log.With("camera", cs.ID, "part", "record"),
			OnSegment: func(start, end time.Time, frames int, err error) {
				if err != nil {
					tracker.Warn("segment:"+cs.ID, fmt.Sprintf("camera %s: closing a segment failed: %v", cs.ID, err))
				}
			},
		}, store, cam.Hub().Subscribe(256))
		wg.Add(2)
		go func() { defer wg.Done(); _ = cam.Run(ctx) }()
		go func() {
			defer wg.Done()
			if err := rec.Run(ctx); err != nil {
				log.Error("recording stopped", "camera", cs.ID, "err", err)
				tracker.Warn("record:"+cs.ID, fmt.Sprintf("camera %s: recording stopped: %v", cs.ID, err))
				errs <- err
			}
		}()
	}

	srv, err := web.New(web.Config{Listen: dc.Listen, DataDir: dc.DataDir, Allowlist: dc.Allowlist, DeviceID: dc.DeviceID},
		web.Deps{Health: tracker, Snapshots: snapshotSource(cams), Logger: log.With("part", "web")})
	if err != nil {
		return fmt.Errorf("LAN page: %w", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Run(ctx); err != nil {
			errs <- fmt.Errorf("LAN page: %w", err)
		}
	}()
	wg.Add(1)
	go func() { defer wg.Done(); maintain(ctx, store, tracker, dc, log) }()

	select {
	case <-srv.Ready():
		user, pass := srv.SetupCredential()
		fmt.Fprintf(e.stdout, "edgerec %s: recording %d camera(s) into %s\n", version, len(cams), dc.DataDir)
		fmt.Fprintf(e.stdout, "LAN page:         https://%s/\n", srv.Addr())
		fmt.Fprintf(e.stdout, "TLS fingerprint:  SHA-256 %s\n", srv.Fingerprint())
		fmt.Fprintf(e.stdout, "one-time login:   user %s  password %s  (valid until this recorder stops)\n", user, pass)
		fmt.Fprintf(e.stdout, "Ctrl-C stops cleanly.\n")
	case err := <-errs:
		cancel()
		wg.Wait()
		return err
	case <-ctx.Done():
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	log.Info("stopping")
	cancel()
	wg.Wait()
	return runErr
}

// maintain keeps storage health current and applies retention.
func maintain(ctx context.Context, store *storage.Store, tracker *health.Tracker, dc daemonConfig, log *slog.Logger) {
	retention := map[string]time.Duration{}
	for _, c := range dc.Cameras {
		if c.Refused == "" && c.Retention > 0 {
			retention[c.ID] = c.Retention
		}
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	lastRetention := time.Time{}
	for {
		st := store.Stats()
		hz := store.Horizon()
		tracker.SetStorage(health.Storage{
			RingBytes: st.RingBytes, UsedBytes: st.UsedBytes, Segments: int(st.Segments),
			Oldest: st.Oldest, Horizon: hz.Duration, HorizonFloor: dc.RetentionFloor,
			Cipher: st.Cipher, ClosedSegment: uint64(st.ClosedSegments),
		})
		if st.Failed != nil {
			tracker.Warn("storage", "storage stopped: "+st.Failed.Error())
		}
		if hz.Below(dc.RetentionFloor) {
			tracker.Warn("horizon", fmt.Sprintf("retention horizon %s at the observed bitrate is below the policy floor %s (R7)", humanDuration(hz.Duration), humanDuration(dc.RetentionFloor)))
		} else {
			tracker.Clear("horizon")
		}
		if time.Since(lastRetention) > 10*time.Minute && len(retention) > 0 {
			if rep, err := store.ApplyRetention(ctx, retention); err != nil {
				log.Error("retention", "err", err)
				tracker.Warn("retention", "retention failed: "+err.Error())
			} else {
				log.Debug("retention applied", "report", rep)
				tracker.Clear("retention")
			}
			lastRetention = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

type snapshotSource map[string]*pipeline.Camera

func (s snapshotSource) Snapshot(ctx context.Context, id string) (image.Image, time.Time, error) {
	c, ok := s[id]
	if !ok {
		return nil, time.Time{}, fmt.Errorf("%w: %q", web.ErrUnknownCamera, id)
	}
	return c.Snapshot()
}

// prepareDataDir creates the demo data dir, or checks that a configured one
// is a usable directory, before anything is written.
func prepareDataDir(dc daemonConfig) error {
	if dc.Demo {
		if err := os.MkdirAll(dc.DataDir, 0o700); err != nil {
			return fmt.Errorf("demo data dir: %w", err)
		}
	}
	fi, err := os.Stat(dc.DataDir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dc.DataDir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data dir %s: not a directory", dc.DataDir)
	}
	probe, err := os.CreateTemp(dc.DataDir, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("data dir %s is not writable: %w", dc.DataDir, err)
	}
	name := probe.Name()
	probe.Close()
	return os.Remove(filepath.Clean(name))
}

// redactSource is for messages that may name a camera source.
func redactSource(u string) string { return source.Redact(u) }

// humanDuration formats a retention-scale duration: days, hours or minutes.
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%.1f hours", d.Hours())
	default:
		return fmt.Sprintf("%.0f minutes", d.Minutes())
	}
}

// refusalRule reduces a refusal reason to the rule it names, for the audit
// detail (no camera names).
func refusalRule(reason string) string {
	switch {
	case strings.Contains(reason, "(R1)") || strings.Contains(reason, "prohibited"):
		return "R1 prohibited zone"
	case strings.Contains(reason, "(R3)") || strings.Contains(reason, "signage"):
		return "R3 signage attestation missing"
	}
	return "policy"
}
