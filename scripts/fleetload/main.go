// Command fleetload plays N simulated gateways (beacons, events and audit
// records, schema v1, time-compressed) into an MQTT broker, for load tests
// of `edgerec fleet serve` (issue 17). It is a development tool; nothing of
// it runs on a gateway.
//
//	go run ./scripts/fleetload --broker mqtts://127.0.0.1:8883 --ca ca.pem --cert c.pem --key k.pem \
//	    --gateways 10000 --rounds 10 --round 1s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/edgerec/edgerec/edge/uplink/fleetd/fleetsim"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
)

func main() {
	broker := flag.String("broker", "", "broker URL (mqtts://…; mqtt:// with --allow-plaintext)")
	plain := flag.Bool("allow-plaintext", false, "allow mqtt://")
	ca := flag.String("ca", "", "CA (PEM)")
	cert := flag.String("cert", "", "client certificate (PEM)")
	key := flag.String("key", "", "client key (PEM)")
	prefix := flag.String("prefix", "edgerec", "topic prefix")
	n := flag.Int("gateways", 1000, "simulated gateways")
	cams := flag.Int("cameras", 8, "cameras per gateway")
	rounds := flag.Int("rounds", 5, "beacon intervals to play")
	round := flag.Duration("round", 0, "wall time of one (60 s) beacon interval; 0 = as fast as the broker takes it")
	audit := flag.Int("audit", 1, "audit records per gateway per interval")
	conns := flag.Int("conns", 8, "MQTT connections")
	stall := flag.Int("stall-audit", -1, "gateway index whose audit stream stalls from round 1 on (beacons go on)")
	flag.Parse()
	if *broker == "" {
		fmt.Fprintln(os.Stderr, "fleetload: --broker is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	gws := fleetsim.Fleet(*prefix, *n, *cams)
	st, err := fleetsim.Play(ctx, fleetsim.LoadConfig{
		MQTT:   mqttc.Options{Broker: *broker, AllowPlaintext: *plain, CAFile: *ca, CertFile: *cert, KeyFile: *key},
		Prefix: *prefix, Rounds: *rounds, RoundEvery: *round, AuditPerRound: *audit, Conns: *conns, Status: true,
		Hook: func(r int, g *fleetsim.Gateway) {
			if *stall >= 0 && g == gws[*stall] && r >= 1 {
				g.StallAudit = true
			}
		},
	}, gws)
	fmt.Println(st)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetload:", err)
		os.Exit(1)
	}
}
