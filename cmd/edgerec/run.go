package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/cameras"
	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/export/decommission"
	"github.com/edgerec/edgerec/edge/export/jobs"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/keyfault"
	"github.com/edgerec/edgerec/edge/live"
	"github.com/edgerec/edgerec/edge/provision"
	"github.com/edgerec/edgerec/edge/retention"
	"github.com/edgerec/edgerec/edge/uplink"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/hal/board"
	"github.com/edgerec/edgerec/hal/timesync"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/storage"
	"github.com/edgerec/edgerec/storage/keyprov"
	periph "periph.io/x/conn/v3/gpio"
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
	// LiveMaxPerUser and LiveMaxDuration bound live views (lan.*; 0 = the
	// packages' defaults).
	LiveMaxPerUser  int
	LiveMaxDuration time.Duration
	Demo            bool
	// Config is the validated config the cameras come from; ConfigPath is
	// where changes made on the LAN page are written ("" = not written).
	Config        *config.Config
	ConfigPath    string
	SegmentLength time.Duration // 0 = the segmenter's default (60 s)

	GrantMaxValidity time.Duration
	StaleAfter       time.Duration
	Uplink           *config.Uplink // nil: no uplink
	Watchdog         string         // hardware watchdog device, "" = none
	// Keys says how to reach the root key's hardware (issue 13).
	Keys keyprov.Settings
	// keyFaultHold is how long the fault LED shows a missing root key
	// before the process exits (0 = keyfault.DefaultHold); gpioLookup replaces
	// periph's pin lookup (tests).
	keyFaultHold time.Duration
	gpioLookup   func(name string) (periph.PinIO, error)
}

const demoRingSize = 256 << 20

func cmdRun(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "run", "[--config FILE] [--demo]")
	cfgPath := fs.String("config", "", "config file (YAML)")
	demo := fs.Bool("demo", false, "run the embedded demo (./var/demo, synthetic camera)")
	demoDir := fs.String("demo-dir", "var/demo", "data dir for --demo")
	listen := fs.String("listen", "", "override lan.listen (host:port)")
	watchdog := fs.String("watchdog", "", "feed this hardware watchdog device while recording is healthy (e.g. /dev/watchdog)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler on this loopback host:port (off by default)")
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
	dc.Watchdog = *watchdog
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if *pprofAddr != "" {
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		if _, err := startPprof(pctx, *pprofAddr, log.With("part", "pprof")); err != nil {
			return err
		}
	}
	return runDaemon(ctx, e, dc, log)
}

func runDaemon(ctx context.Context, e *env, dc daemonConfig, log *slog.Logger) error {
	if err := prepareDataDir(dc); err != nil {
		return err
	}
	tuneMemory(log)
	kps := keyprov.Providers(dc.DataDir, dc.Keys, log.With("part", "keys"))
	sopts := storage.Options{FlushInterval: dc.FlushInterval, Logger: log.With("part", "storage"), Keys: kps}
	store, err := keyprov.Open(ctx, dc.DataDir, dc.Keys, sopts, log)
	if errors.Is(err, storage.ErrNotProvisioned) && dc.Demo {
		log.Info("first demo start: provisioning", "dir", dc.DataDir, "ring_bytes", dc.RingSize)
		if err := storage.Provision(ctx, dc.DataDir, storage.ProvisionOptions{RingSize: dc.RingSize, Keys: kps}); err != nil {
			return fmt.Errorf("provision demo store in %s: %w", dc.DataDir, err)
		}
		store, err = keyprov.Open(ctx, dc.DataDir, dc.Keys, sopts, log)
	}
	if errors.Is(err, storage.ErrNotProvisioned) {
		return fmt.Errorf("data dir %s is not provisioned: run `edgerec provision --data %s --device-id %s` first: %w", dc.DataDir, dc.DataDir, dc.DeviceID, err)
	}
	if keyprov.IsFault(err) {
		// Issue 13: one line, fault LED, noted for the next start.
		kf := keyfault.Config{DataDir: dc.DataDir, Hold: dc.keyFaultHold, Lookup: dc.gpioLookup}
		if dc.Config != nil {
			kf.StatusLED = dc.Config.GPIO.StatusLED
		}
		return reportedError{keyfault.Refuse(ctx, kf, err, log)}
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

	tracker := health.NewTracker(dc.DeviceID, version, nil)
	tracker.SetKeyProvider(keyProviderHealth(store.KeyProvider()))
	relay := uplink.NewSecurityRelay(tracker, log.With("part", "security"))
	ps, err := openPolicy(ctx, dc, store, log, relay.PolicyEvent)
	if err != nil {
		return err
	}
	var wiper *decommission.Decommissioner
	defer func() {
		ps.Close()
		if wiper != nil {
			finishDecommission(wiper, log) // after a decommission: remove the closed files
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	auditDevice(ctx, ps, tracker, log, audit.Event{Action: "device.start", TargetKind: audit.KindDevice, Result: "ok", Detail: "firmware " + version})
	defer auditDevice(context.WithoutCancel(ctx), ps, tracker, log, audit.Event{Action: "device.stop", TargetKind: audit.KindDevice, Result: "ok"})

	up, pump := startUplink(dc, tracker, ps, store.Vault(), log)
	var upq uplink.Queue // nil interface without an uplink
	if up != nil {
		upq = up
	}
	keyfault.Report(ctx, dc.DataDir, keyfault.ReportDeps{Upstream: upq, Logger: log.With("part", "keys"),
		Audit: func(ctx context.Context, e audit.Event) { auditDevice(ctx, ps, tracker, log, e) }})
	wg.Add(1)
	go func() { defer wg.Done(); relay.Run(ctx, upq) }()
	if up != nil {
		wg.Add(2)
		go func() { defer wg.Done(); _ = up.Run(ctx) }()
		go func() { defer wg.Done(); _ = pump.Run(ctx) }()
	}
	brd := board.New(board.Config{}, board.Deps{})
	panel := startPanel(ctx, &wg, dc, tracker, ps, up, log.With("part", "panel"))
	if err := startWatchdog(ctx, &wg, dc.Watchdog, brd, tracker, log.With("part", "watchdog")); err != nil {
		return fmt.Errorf("watchdog %s: %w", dc.Watchdog, err)
	}

	camDeps := cameras.Deps{Store: store, Health: tracker, Audit: ps, Coverage: ps, ClockSynced: brd.ClockSynced, Logger: log}
	if v := store.Vault(); v != nil {
		camDeps.Vault = v
	}
	cams := cameras.New(cameras.Config{File: dc.Config, Path: dc.ConfigPath, DataDir: dc.DataDir, SegmentLength: dc.SegmentLength, MaxAccessUnit: storage.MaxFrameSize}, camDeps)
	if err := cams.CheckExternalEdit(ctx); err != nil {
		log.Error("config record", "err", err) // R16
		tracker.Raise("config.record", health.SevWarning, "config record: "+err.Error())
	}
	// After the outside-edit check (which reports a hand edit), so that
	// the rewrite is recorded as the device's own (issue 13, R32).
	if err := cams.SealInlineCredentials(); err != nil {
		log.Error("camera passwords not moved into the vault", "err", err)
		tracker.Raise("config.credentials", health.SevWarning, "camera passwords are still in the config file: "+err.Error())
	}
	wg.Add(1)
	go func() { // starts the cameras, then R27: changes approved while the daemon was down
		defer wg.Done()
		if err := cams.Run(ctx); err != nil {
			select {
			case errs <- err:
			default:
			}
		}
	}()
	<-cams.Started()
	defer cams.Wait()
	defer cancel()

	live, err := live.New(live.Config{AllowLoopback: loopbackListen(dc.Listen), LAN: dc.Allowlist, MaxPerViewer: dc.LiveMaxPerUser}, live.Deps{Source: cams, Logger: log.With("part", "live")})
	if err != nil {
		return fmt.Errorf("live view: %w", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = live.Run(ctx) }()

	exports, err := jobs.New(jobs.Config{Dir: filepath.Join(dc.DataDir, "exports")}, jobs.Deps{Store: store, Policy: ps,
		Device: provision.Identity{Dir: dc.DataDir, Config: cams.Config, Vault: store.Vault()}, Logger: log.With("part", "export")})
	if err != nil {
		return fmt.Errorf("exports: %w", err)
	}
	defer exports.Close() // destroys the export keys, erases the files
	auxCtx, stopAux := context.WithCancel(ctx)
	wiper = daemonDecommission(dc, kps, store, ps, up, cams, stopAux, cancel, tracker, log)

	updates := startUpdater(ctx, &wg, dc.DataDir, store, ps, log.With("part", "update")) // issue 16
	finder, stopFinder, err := onvifFinder(dc, brd.ClockSynced, log.With("part", "onvif"))
	if err != nil {
		return err
	}
	defer stopFinder()
	srv, err := web.New(web.Config{Listen: dc.Listen, DataDir: dc.DataDir, Allowlist: dc.Allowlist, DeviceID: dc.DeviceID, RetentionFloor: dc.RetentionFloor, Site: dc.Config.Device.Site, Filing: dc.Config.Device.Filing, Location: dc.Config.Location(),
		LiveMaxDuration: dc.LiveMaxDuration},
		web.Deps{Policy: ps, Health: tracker, Cameras: cams, Live: live, Recordings: store, Exports: exports, Decommission: wiper, WipeArmed: panel.Armed, Alerts: relay, Finder: finder, Sealer: store.Vault(), Updates: updates, Logger: log.With("part", "web"),
			Settings: cams, Uplink: provision.UplinkFiles{DataDir: dc.DataDir, Vault: store.Vault()}, NTP: ntpServers(dc),
			Backup: func(ctx context.Context, by string) ([]byte, error) {
				doc, _, err := buildBackup(ctx, ps, cams.Config(), dc.DataDir, by, store.Vault())
				return doc, err
			}})
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
	keeper, err := retention.New(retention.Config{Floor: dc.RetentionFloor}, retention.Deps{Store: store, Policy: ps, Health: tracker,
		Retention: cams.Retention, Logger: log.With("part", "retention")})
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = keeper.Run(auxCtx) }() // R6, R7, R8, R14

	select {
	case <-srv.Ready():
		fmt.Fprintf(e.stdout, "edgerec %s: recording %d camera(s) into %s\n", version, cams.Recording(), dc.DataDir)
		fmt.Fprintf(e.stdout, "LAN page:         https://%s/\n", srv.Addr())
		fmt.Fprintf(e.stdout, "TLS fingerprint:  SHA-256 %s\n", srv.Fingerprint())
		if code := srv.SetupCode(); code != "" {
			fmt.Fprintf(e.stdout, "one-time setup code: %s  (open the LAN page and create the first admin with it; it dies after use)\n", code)
		}
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

// prepareDataDir creates the demo data dir, or checks that a configured one
// is a usable directory, before anything is written.
func prepareDataDir(dc daemonConfig) error {
	if dc.Demo {
		if err := os.MkdirAll(dc.DataDir, 0o700); err != nil {
			return fmt.Errorf("demo data dir: %w", err)
		}
	}
	fi, err := os.Stat(dc.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		// Issue 18: say what to do, not only what is missing.
		return fmt.Errorf("data dir %s does not exist: this device is not provisioned: run `edgerec provision --data %s --device-id %s --config FILE` first: %w", dc.DataDir, dc.DataDir, dc.DeviceID, err)
	}
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

// loopbackListen reports whether the LAN page listens on loopback only
// (the demo): then the live view offers loopback candidates too.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return (err == nil && ip.IsLoopback()) || host == "localhost"
}

// keyProviderHealth is what the health view (page, API, beacon, LED) says
// about where the root key lives (issue 13). The file provider carries the
// standing warning.
func keyProviderHealth(p storage.Provider) health.KeyProvider {
	kp := health.KeyProvider{Name: p.String(), Note: storage.ProviderNote(p.String())}
	if p == storage.ProviderFile {
		kp.Warning = storage.FileProviderWarning
	}
	return kp
}

// ntpServers is the time service's server list beside the config file
// (/data/edgerec/ntp-servers on a gateway; the Settings page, issue 18),
// or nil without a config file.
func ntpServers(dc daemonConfig) web.NTPServers {
	if dc.ConfigPath == "" {
		return nil
	}
	return timesync.Servers{Path: filepath.Join(filepath.Dir(dc.ConfigPath), timesync.FileName)}
}

// tuneMemory sets the daemon's C memory trade-offs (issue 14: a gateway
// records many cameras on little RAM). C blocks of 128 KiB and more are
// mapped and unmapped on their own (codec.FixMmapThreshold). One C malloc
// arena (see codec.LimitMallocArenas): the codec allocates when a codec is
// made or first sees a picture size, not per picture, so one lock costs
// nothing, and since each codec runs on its own short-lived C thread
// (edge/codec, "Threads") a second arena kept 25–60 MiB more at 16
// passthrough cameras (peak 245–256 vs 209–210 MiB, two runs each).
// Go's GC keeps its default target (100 %, GOGC in the environment wins):
// a lower one paid off only while every passthrough camera held a decoded
// snapshot (3 MB at 1080p) on the heap; with the coded keyframe kept
// instead (edge/pipeline) the live heap is small and GOGC 50 ran ~5 GCs a
// second per camera. 16 passthrough 1080p cameras, 25 s, two runs each:
// GOGC 50 0.18–0.22 CPU-s/s, peak 118–119 MiB; 100: 0.147–0.152, 125–128
// MiB; 200: 0.151–0.176, 154 MiB.
func tuneMemory(log *slog.Logger) {
	arenas := codec.LimitMallocArenas(1)
	mmapped := codec.FixMmapThreshold(128 << 10)
	log.Debug("memory tuning", "malloc_arenas_limited", arenas, "mmap_threshold_fixed", mmapped)
}
