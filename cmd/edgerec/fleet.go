package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/uplink/fleet"
	"github.com/edgerec/edgerec/edge/uplink/fleetd"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
)

// cmdFleet is `edgerec fleet --broker URL [--json]`: the ops view of
// gateway beacons; `edgerec fleet serve …` is the central ops service and
// `edgerec fleet audit …` prints a gateway's received audit chain. They
// only subscribe; they never publish (R21).
func cmdFleet(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return cmdFleetServe(ctx, e, args[1:])
		case "audit":
			return cmdFleetAudit(ctx, e, args[1:])
		}
	}
	fs := newFlags(e, "fleet", "--broker URL [--json] [--ca FILE --cert FILE --key FILE] [--user NAME] [--share GROUP]")
	opts := mqttFlags(e, fs)
	asJSON := fs.Bool("json", false, "stream JSON lines (one per message, plus gateway rows) instead of a table")
	prefix := fs.String("prefix", "edgerec", "topic prefix")
	share := fs.String("share", "", "shared subscription group ($share/GROUP/…), so several consoles split the load")
	refresh := fs.Duration("refresh", 2*time.Second, "table refresh and silence check interval")
	stale := fs.Float64("stale", 3, "flag a gateway silent after this many beacon intervals without a beacon")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o, err := opts()
	if err != nil {
		return err
	}
	if *refresh <= 0 || *stale <= 0 {
		return usageError{"--refresh and --stale must be positive"}
	}
	tty := false
	if f, ok := e.stdout.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return fleet.Run(ctx, fleet.Config{
		MQTT:   o,
		Prefix: *prefix, Share: *share, JSON: *asJSON, Refresh: *refresh, StaleAfter: *stale, TTY: tty,
	}, e.stdout)
}

// mqttFlags are the broker flags shared by `fleet` and `fleet serve`.
func mqttFlags(e *env, fs *flag.FlagSet) func() (mqttc.Options, error) {
	broker := fs.String("broker", "", "ops broker URL (mqtts://host:8883; mqtt:// needs --allow-plaintext)")
	ca := fs.String("ca", "", "CA certificate (PEM) of the broker; default: system roots")
	cert := fs.String("cert", "", "client certificate (PEM) for mutual TLS")
	key := fs.String("key", "", "client key (PEM) for mutual TLS")
	user := fs.String("user", "", "user name")
	passEnv := fs.String("password-env", "EDGEREC_MQTT_PASSWORD", "environment variable holding the password (never a flag)")
	plain := fs.Bool("allow-plaintext", false, "allow an unencrypted mqtt:// broker")
	return func() (mqttc.Options, error) {
		if *broker == "" {
			return mqttc.Options{}, usageError{"--broker URL is required"}
		}
		if _, err := mqttc.ParseBroker(*broker, *plain); err != nil {
			return mqttc.Options{}, usageError{err.Error()}
		}
		pass := ""
		if *passEnv != "" && e.getenv != nil {
			pass = e.getenv(*passEnv)
		}
		return mqttc.Options{Broker: *broker, AllowPlaintext: *plain, CAFile: *ca, CertFile: *cert, KeyFile: *key,
			Username: *user, Password: pass, SessionExpiry: 0}, nil
	}
}

// cmdFleetServe is `edgerec fleet serve --broker URL --listen ADDR`: the
// central ops service (edge/uplink/fleetd), at the ops centre.
func cmdFleetServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "fleet serve", "--broker URL --listen ADDR [--state FILE] [--share GROUP] [--shards N --shard I] [--ca FILE --cert FILE --key FILE]")
	opts := mqttFlags(e, fs)
	listen := fs.String("listen", "", "HTTP address for /metrics, the page and /api (e.g. 127.0.0.1:9310)")
	state := fs.String("state", "fleet.db", "per-gateway state file (bbolt)")
	share := fs.String("share", "edgerec-fleet", "shared subscription group; instances with the same group split the load")
	prefix := fs.String("prefix", "edgerec", "topic prefix")
	stale := fs.Float64("stale", 3, "a gateway is down after this many beacon intervals without a beacon")
	maxGw := fs.Int("max-gateways", 100000, "gateways kept (bounds the series exported)")
	floodRate := fs.Float64("flood-rate", 50, "per-device message rate (msg/s) beyond the burst before messages are dropped")
	floodBurst := fs.Float64("flood-burst", 5000, "per-device burst")
	shards := fs.Int("shards", 1, "instances that split the gateways (each gateway's messages end up in one instance: audit continuity needs that)")
	shard := fs.Int("shard", 0, "this instance's index, 0 … shards-1")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o, err := opts()
	if err != nil {
		return err
	}
	if *listen == "" {
		return usageError{"--listen ADDR is required"}
	}
	s, err := fleetd.New(fleetd.Config{MQTT: o, Prefix: *prefix, Share: *share, Listen: *listen, StatePath: *state,
		StaleAfter: *stale, MaxGateways: *maxGw, FloodRate: *floodRate, FloodBurst: *floodBurst,
		Shards: *shards, Shard: *shard}, fleetd.Deps{Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		return usageError{err.Error()}
	}
	return s.Run(ctx)
}

// cmdFleetAudit is `edgerec fleet audit --device ID [--url URL | --state
// FILE]`: the audit chain the fleet received from one gateway and its
// verification (contiguous seqs, links, the beacon head). Exit 1 when it
// does not verify.
func cmdFleetAudit(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "fleet audit", "--device ID (--url http://OPS:PORT | --state FILE) [--json]")
	dev := fs.String("device", "", "device id")
	u := fs.String("url", "", "base URL of a running `edgerec fleet serve`")
	state := fs.String("state", "", "the service's state file (when no service holds it)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dev == "" || (*u == "") == (*state == "") {
		return usageError{"--device and one of --url or --state are required"}
	}
	src := *u
	if src == "" {
		src = *state
	}
	r, err := fleetd.FetchAudit(ctx, src, *dev)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", " ")
		_ = enc.Encode(r)
	} else {
		fleetd.PrintAudit(e.stdout, r)
	}
	if !r.OK {
		return errors.New("fleet audit: the received chain does not verify")
	}
	return nil
}

// fleetKeyOption pins, for `verify --fleet`, the key the fleet service saw
// first for the device the file names (issue 17): the file's own key is
// only trusted to read which device it claims.
func fleetKeyOption(ctx context.Context, e *env, src, file string) (export.VerifyOption, error) {
	claimed, err := export.VerifyFile(file)
	if err != nil {
		return nil, err
	}
	dev := ""
	switch {
	case claimed.Manifest != nil:
		dev = claimed.Manifest.Device
	case claimed.Wipe != nil:
		dev = claimed.Wipe.Device
	}
	k, err := fleetd.LookupKey(ctx, src, dev)
	if err != nil {
		return nil, err
	}
	pub, err := k.PublicKey()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stdout, "fleet key for %s: %s (first seen)\n", dev, k.Fingerprint)
	if k.Changed {
		fmt.Fprintf(e.stdout, "WARNING: the fleet saw %s beacon another key since (%s)\n", dev, fleetd.KeyFingerprint(k.Seen))
	}
	return export.WithDeviceKey(pub), nil
}
