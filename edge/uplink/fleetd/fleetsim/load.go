package fleetsim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// LoadConfig says what to play.
type LoadConfig struct {
	MQTT    mqttc.Options // broker and TLS; ClientID is set per connection
	Prefix  string        // default "edgerec"
	Cameras int           // per gateway; default 8
	// Rounds: each round every gateway sends one beacon, AuditPerRound
	// audit records and, every EventEvery rounds, one event. A round is
	// one beacon interval (60 s in the field) compressed to RoundEvery;
	// 0 = as fast as the broker takes it.
	Rounds        int
	RoundEvery    time.Duration
	AuditPerRound int
	EventEvery    int
	// Conns is how many MQTT connections carry the fleet (a real fleet has
	// one per gateway; what the fleet service sees is the same); default 8.
	Conns int
	// Inflight is the number of QoS 1 publishes in flight per connection;
	// default 64.
	Inflight int
	// Status: publish the retained online status of each gateway first.
	Status bool
	// Hook may change a gateway before each round (inject faults).
	Hook func(round int, g *Gateway)
}

// LoadStats is what was published.
type LoadStats struct {
	Published [5]uint64 // by wire.Kind
	Errors    uint64
	Elapsed   time.Duration
}

// Total is all messages published.
func (s LoadStats) Total() uint64 {
	var n uint64
	for _, v := range s.Published {
		n += v
	}
	return n
}

// Rate is messages per second.
func (s LoadStats) Rate() float64 { return float64(s.Total()) / max(s.Elapsed.Seconds(), 1e-9) }

func (s LoadStats) String() string {
	return fmt.Sprintf("%d messages (%d beacons, %d events, %d audit, %d status) in %s = %.0f msg/s, %d errors",
		s.Total(), s.Published[wire.KindBeacon], s.Published[wire.KindEvent], s.Published[wire.KindAudit],
		s.Published[wire.KindStatus], s.Elapsed.Round(time.Millisecond), s.Rate(), s.Errors)
}

// Play publishes the fleet's messages (QoS 1, each awaited) and returns
// when all rounds are done or ctx ends.
func Play(ctx context.Context, cfg LoadConfig, gws []*Gateway) (LoadStats, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "edgerec"
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 8
	}
	if cfg.Inflight <= 0 {
		cfg.Inflight = 64
	}
	if cfg.EventEvery <= 0 {
		cfg.EventEvery = 5
	}
	var published [5]atomic.Uint64
	var errs atomic.Uint64
	clis := make([]*paho.Client, cfg.Conns)
	for i := range clis {
		o := cfg.MQTT
		o.ClientID = fmt.Sprintf("fleetsim-%d-%d", time.Now().UnixNano()%1e6, i)
		cli, _, err := mqttc.Connect(ctx, o)
		if err != nil {
			return LoadStats{}, fmt.Errorf("fleetsim: connect: %w", err)
		}
		defer cli.Disconnect(&paho.Disconnect{})
		clis[i] = cli
	}
	// One worker per in-flight slot; a gateway always goes through the
	// same worker, so its messages keep their order (as from a device).
	workers := make([]chan Msg, cfg.Conns*cfg.Inflight)
	var wg sync.WaitGroup
	for w := range workers {
		ch := make(chan Msg, 16)
		workers[w] = ch
		cli := clis[w%len(clis)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range ch {
				_, err := cli.Publish(ctx, &paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: 1, Retain: m.Retain,
					Properties: &paho.PublishProperties{ContentType: m.Kind.ContentType()}})
				if err != nil {
					errs.Add(1)
					continue
				}
				published[m.Kind].Add(1)
			}
		}()
	}
	start := time.Now()
	send := func(i int, m Msg) bool {
		select {
		case workers[i%len(workers)] <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	func() {
		if cfg.Status {
			for i, g := range gws {
				if !send(i, g.Status(true)) {
					return
				}
			}
		}
		for r := 0; r < cfg.Rounds; r++ {
			roundStart := time.Now()
			for i, g := range gws {
				if cfg.Hook != nil {
					cfg.Hook(r, g)
				}
				for range cfg.AuditPerRound {
					for _, m := range g.Audit() {
						if !send(i, m) {
							return
						}
					}
				}
				if !send(i, g.Beacon()) {
					return
				}
				if (r+i)%cfg.EventEvery == 0 && !send(i, g.Event(wire.EvLoginBurst, wire.SevWarning, 5)) {
					return
				}
			}
			if wait := cfg.RoundEvery - time.Since(roundStart); wait > 0 && r+1 < cfg.Rounds {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	for _, ch := range workers {
		close(ch)
	}
	wg.Wait()
	st := LoadStats{Errors: errs.Load(), Elapsed: time.Since(start)}
	for i := range published {
		st.Published[i] = published[i].Load()
	}
	return st, ctx.Err()
}

// Fleet returns n simulated gateways.
func Fleet(prefix string, n, cameras int) []*Gateway {
	if cameras <= 0 {
		cameras = 8
	}
	out := make([]*Gateway, n)
	for i := range out {
		out[i] = New(prefix, i, cameras)
	}
	return out
}
