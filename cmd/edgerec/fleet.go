package main

import (
	"context"
	"os"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/fleet"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
)

// cmdFleet is `edgerec fleet --broker URL [--json]`: the ops view of
// gateway beacons. It only subscribes; it never publishes (R21).
func cmdFleet(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "fleet", "--broker URL [--json] [--ca FILE --cert FILE --key FILE] [--user NAME] [--share GROUP]")
	broker := fs.String("broker", "", "ops broker URL (mqtts://host:8883; mqtt:// needs --allow-plaintext)")
	asJSON := fs.Bool("json", false, "stream JSON lines (one per message, plus gateway rows) instead of a table")
	ca := fs.String("ca", "", "CA certificate (PEM) of the broker; default: system roots")
	cert := fs.String("cert", "", "client certificate (PEM) for mutual TLS")
	key := fs.String("key", "", "client key (PEM) for mutual TLS")
	user := fs.String("user", "", "user name")
	passEnv := fs.String("password-env", "EDGEREC_MQTT_PASSWORD", "environment variable holding the password (never a flag)")
	plain := fs.Bool("allow-plaintext", false, "allow an unencrypted mqtt:// broker")
	prefix := fs.String("prefix", "edgerec", "topic prefix")
	share := fs.String("share", "", "shared subscription group ($share/GROUP/…), so several consoles split the load")
	refresh := fs.Duration("refresh", 2*time.Second, "table refresh and silence check interval")
	stale := fs.Float64("stale", 3, "flag a gateway silent after this many beacon intervals without a beacon")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *broker == "" {
		return usageError{"--broker URL is required"}
	}
	if _, err := mqttc.ParseBroker(*broker, *plain); err != nil {
		return usageError{err.Error()}
	}
	if *refresh <= 0 || *stale <= 0 {
		return usageError{"--refresh and --stale must be positive"}
	}
	pass := ""
	if *passEnv != "" && e.getenv != nil {
		pass = e.getenv(*passEnv)
	}
	tty := false
	if f, ok := e.stdout.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return fleet.Run(ctx, fleet.Config{
		MQTT: mqttc.Options{
			Broker: *broker, AllowPlaintext: *plain, CAFile: *ca, CertFile: *cert, KeyFile: *key,
			Username: *user, Password: pass,
		},
		Prefix: *prefix, Share: *share, JSON: *asJSON, Refresh: *refresh, StaleAfter: *stale, TTY: tty,
	}, e.stdout)
}
