package fleetd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// Config configures the service.
type Config struct {
	MQTT   mqttc.Options // broker, TLS, credentials; ClientID generated when empty
	Prefix string        // topic prefix; default "edgerec"
	// Share is the shared subscription group; several instances with the
	// same group split the messages. Default "edgerec-fleet".
	Share     string
	Listen    string // HTTP address for /metrics, / and /api; "" = none
	StatePath string // bbolt file; "" = memory only (tests)
	// StaleAfter: beacon intervals without a beacon make a gateway down;
	// default 3.
	StaleAfter float64
	// MaxGateways bounds the gateways kept (and so the series exported);
	// messages from further device ids are dropped as "gateway_cap".
	// Default 100000.
	MaxGateways int
	// MaxCameraSeries bounds per-camera series per gateway; default 40
	// (wire.MaxBeaconCameras).
	MaxCameraSeries int
	// FloodRate and FloodBurst are the per-device token bucket (messages/s,
	// burst). Beyond it messages are dropped as "flood". Defaults 50/s and
	// 5000 (an outbox drained after an outage stays below that).
	FloodRate  float64
	FloodBurst float64
	// KeepAudit is how many audit records per device the state file keeps
	// for `edgerec fleet audit`; default 256.
	KeepAudit int
	// FlushEvery is how often dirty state is written; default 1 s.
	FlushEvery time.Duration
	// Shards > 1 gives gateway affinity across instances: a shared
	// subscription spreads messages round robin, but audit continuity
	// needs all of one gateway's records in one place. Gateway d belongs
	// to shard fnv32a(d) mod Shards; an instance (Shard = its index)
	// forwards a message of another shard's gateway to
	// <prefix>-fleetd/<shard>/<device>/<kind>, which that shard's
	// instances consume through their own share group. Default 1 (no
	// forwarding; every instance keeps whatever gateways it sees).
	Shards int
	Shard  int
}

// Deps are the service's collaborators.
type Deps struct {
	Logger *slog.Logger
	Now    func() time.Time
}

// Drop reasons (closed set: they are a metric label).
const (
	DropTopic    = "topic"           // not <prefix>/<device>/<kind>
	DropOversize = "oversize"        // larger than the kind's bound
	DropVersion  = "version"         // unknown schema version
	DropInvalid  = "invalid"         // does not decode or validate, or not metadata
	DropMismatch = "device_mismatch" // payload dev differs from the topic's device
	DropFlood    = "flood"           // over the device's rate
	DropCap      = "gateway_cap"     // a new device beyond MaxGateways
	DropForward  = "forward"         // another shard's message that could not be forwarded (queue full)
)

var dropReasons = []string{DropTopic, DropOversize, DropVersion, DropInvalid, DropMismatch, DropFlood, DropCap, DropForward}

type bucket struct {
	tokens float64
	last   time.Time
}

// Service is `edgerec fleet serve`.
type Service struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	store *Store

	mu      sync.Mutex
	gws     map[string]*Gateway
	buckets map[string]*bucket
	dirty   map[string]bool
	pending []pendingAudit

	msgs      [5]atomic.Uint64 // by wire.Kind
	dropped   map[string]*atomic.Uint64
	storeErrs atomic.Uint64
	connected atomic.Bool
	started   time.Time
	fwd       chan fwdMsg
	forwarded atomic.Uint64
}

type fwdMsg struct {
	topic   string
	payload []byte
}

// New checks cfg and returns a service (nothing is opened until Run, except
// through Open in tests).
func New(cfg Config, deps Deps) (*Service, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "edgerec"
	}
	if cfg.Share == "" {
		cfg.Share = "edgerec-fleet"
	}
	if strings.ContainsAny(cfg.Share, "/+#") {
		return nil, fmt.Errorf("fleetd: share group %q may not contain / + #", cfg.Share)
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 3
	}
	if cfg.MaxGateways <= 0 {
		cfg.MaxGateways = 100000
	}
	if cfg.MaxCameraSeries <= 0 {
		cfg.MaxCameraSeries = wire.MaxBeaconCameras
	}
	if cfg.FloodRate <= 0 {
		cfg.FloodRate = 50
	}
	if cfg.FloodBurst <= 0 {
		cfg.FloodBurst = 5000
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 1
	}
	if cfg.Shard < 0 || cfg.Shard >= cfg.Shards {
		return nil, fmt.Errorf("fleetd: shard %d of %d", cfg.Shard, cfg.Shards)
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Service{cfg: cfg, log: deps.Logger, now: deps.Now, gws: map[string]*Gateway{},
		buckets: map[string]*bucket{}, dirty: map[string]bool{}, dropped: map[string]*atomic.Uint64{}}
	for _, r := range dropReasons {
		s.dropped[r] = new(atomic.Uint64)
	}
	s.started = s.now()
	if cfg.Shards > 1 {
		s.fwd = make(chan fwdMsg, 1<<16)
	}
	return s, nil
}

// Open opens the state file and loads the gateways in it.
func (s *Service) Open() error {
	if s.cfg.StatePath == "" || s.store != nil {
		return nil
	}
	st, err := OpenStore(s.cfg.StatePath, s.cfg.KeepAudit, false)
	if err != nil {
		return err
	}
	gws, err := st.Load()
	if err != nil {
		st.Close()
		return err
	}
	s.mu.Lock()
	s.store, s.gws = st, gws
	s.mu.Unlock()
	return nil
}

// Close flushes and closes the state file.
func (s *Service) Close() error {
	if s.store == nil {
		return nil
	}
	err := s.Flush()
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	s.store = nil
	return err
}

// Flush writes dirty gateways and pending audit records.
func (s *Service) Flush() error {
	if s.store == nil {
		return nil
	}
	s.mu.Lock()
	gws := make([]*Gateway, 0, len(s.dirty))
	for dev := range s.dirty {
		if g := s.gws[dev]; g != nil {
			c := g.clone()
			gws = append(gws, &c)
		}
	}
	recs := s.pending
	s.dirty, s.pending = map[string]bool{}, nil
	s.mu.Unlock()
	if len(gws) == 0 && len(recs) == 0 {
		return nil
	}
	if err := s.store.Save(gws, recs); err != nil {
		s.storeErrs.Add(1)
		return err
	}
	return nil
}

func (g *Gateway) clone() Gateway {
	c := *g
	c.Cameras = append([]Camera(nil), g.Cameras...)
	c.Alerts = append([]string(nil), g.Alerts...)
	c.Events = cloneMap(g.Events)
	c.Dropped = cloneMap(g.Dropped)
	c.Audit.Gaps = append([]Range(nil), g.Audit.Gaps...)
	c.Audit.Breaks = append([]Break(nil), g.Audit.Breaks...)
	return c
}

func cloneMap(m map[string]uint64) map[string]uint64 {
	if m == nil {
		return nil
	}
	c := make(map[string]uint64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (s *Service) drop(reason string, g *Gateway) {
	s.dropped[reason].Add(1)
	if g != nil {
		g.countDrop(reason)
		s.dirty[g.Device] = true
	}
}

// Handle applies one received message; bad input is counted and dropped.
// It never blocks on I/O (the state file is written by Flush).
func (s *Service) Handle(topic string, payload []byte) {
	levels := strings.Split(topic, "/")
	if len(levels) != 3 || levels[0] != s.cfg.Prefix {
		s.drop(DropTopic, nil)
		return
	}
	dev := levels[1]
	k, ok := wire.KindOfTopic(levels[2])
	if !ok || !wire.ValidDevice(dev) {
		s.drop(DropTopic, nil)
		return
	}
	now := s.now()
	nowMs := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.gws[dev]
	if g == nil {
		if len(s.gws) >= s.cfg.MaxGateways {
			s.drop(DropCap, nil)
			return
		}
	}
	// Flood control comes before decoding: a flood costs a map lookup.
	if k != wire.KindStatus && !s.allow(dev, now) {
		if g != nil {
			s.drop(DropFlood, g)
		} else {
			s.drop(DropFlood, nil)
		}
		return
	}
	if len(payload) > k.MaxBytes() {
		s.drop(DropOversize, g)
		return
	}
	msg, err := wire.Decode(k, payload)
	if err == nil {
		err = wire.Check(k, payload)
	}
	if err != nil {
		reason := DropInvalid
		switch {
		case errors.Is(err, wire.ErrVersion):
			reason = DropVersion
		case errors.Is(err, wire.ErrTooLarge):
			reason = DropOversize
		}
		s.drop(reason, g)
		return
	}
	if msgDevice(msg) != dev {
		s.drop(DropMismatch, g)
		return
	}
	if g == nil {
		g = &Gateway{Device: dev, FirstSeen: nowMs, IntervalS: 60, Cameras: []Camera{}, Alerts: []string{}}
		s.gws[dev] = g
	}
	g.LastSeen = nowMs
	s.msgs[k].Add(1)
	switch m := msg.(type) {
	case *wire.Status:
		g.applyStatus(m, nowMs)
	case *wire.Beacon:
		g.applyBeacon(m, nowMs)
	case *wire.Event:
		g.countEvent(m.Kind)
	case *wire.Audit:
		if g.applyAudit(m, nowMs) && s.store != nil && len(s.pending) < 1<<16 {
			s.pending = append(s.pending, pendingAudit{dev, storedAudit(m, nowMs)})
		}
	}
	s.dirty[dev] = true
}

func msgDevice(m wire.Message) string {
	switch m := m.(type) {
	case *wire.Status:
		return m.Device
	case *wire.Beacon:
		return m.Device
	case *wire.Event:
		return m.Device
	case *wire.Audit:
		return m.Device
	}
	return ""
}

// allow takes one token from dev's bucket. Callers hold s.mu.
func (s *Service) allow(dev string, now time.Time) bool {
	b := s.buckets[dev]
	if b == nil {
		if len(s.buckets) >= s.cfg.MaxGateways {
			return false
		}
		b = &bucket{tokens: s.cfg.FloodBurst, last: now}
		s.buckets[dev] = b
	}
	b.tokens = min(s.cfg.FloodBurst, b.tokens+now.Sub(b.last).Seconds()*s.cfg.FloodRate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Snapshot returns copies of every gateway, sorted by device id.
func (s *Service) Snapshot() []Gateway {
	s.mu.Lock()
	out := make([]Gateway, 0, len(s.gws))
	for _, g := range s.gws {
		out = append(out, g.clone())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out
}

// Gateway returns a copy of one gateway's state.
func (s *Service) Gateway(dev string) (Gateway, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.gws[dev]
	if !ok {
		return Gateway{}, false
	}
	return g.clone(), true
}

// Counts are the service-wide message counters.
type Counts struct {
	Messages map[string]uint64 `json:"messages"` // by kind
	Dropped  map[string]uint64 `json:"dropped"`  // by reason
}

// Counts returns the counters so far.
func (s *Service) Counts() Counts {
	c := Counts{Messages: map[string]uint64{}, Dropped: map[string]uint64{}}
	for _, k := range wire.Kinds {
		c.Messages[k.Topic()] = s.msgs[k].Load()
	}
	for _, r := range dropReasons {
		c.Dropped[r] = s.dropped[r].Load()
	}
	return c
}

// Filters are the subscriptions: the shared <prefix>/+/+ (beacons, events,
// audit records and live status, split among the group), plus the plain
// <prefix>/+/status, because a shared subscription gets no retained
// messages and the retained status is what says a gateway is offline.
// Statuses therefore reach every instance (they are idempotent).
func (c Config) Filters() []string {
	f := []string{"$share/" + c.Share + "/" + c.Prefix + "/+/+", c.Prefix + "/+/status"}
	if c.Shards > 1 {
		f = append(f, fmt.Sprintf("$share/%s-s%d/%s/%d/+/+", c.Share, c.Shard, c.fwdPrefix(), c.Shard))
	}
	return f
}

func (c Config) fwdPrefix() string { return c.Prefix + "-fleetd" }

// ShardOf is the shard that owns device dev.
func ShardOf(dev string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(dev))
	return int(h.Sum32() % uint32(max(shards, 1)))
}

// receive routes one PUBLISH: forwarded ones and our shard's are
// handled; another shard's are queued for forwarding (statuses are not:
// every instance gets them through the plain subscription).
func (s *Service) receive(topic string, payload []byte) {
	if s.cfg.Shards <= 1 {
		s.Handle(topic, payload)
		return
	}
	fp := s.cfg.fwdPrefix() + "/"
	if rest, ok := strings.CutPrefix(topic, fp); ok {
		if _, orig, ok := strings.Cut(rest, "/"); ok {
			s.Handle(s.cfg.Prefix+"/"+orig, payload)
			return
		}
		s.drop(DropTopic, nil)
		return
	}
	levels := strings.Split(topic, "/")
	if len(levels) != 3 || levels[0] != s.cfg.Prefix || !wire.ValidDevice(levels[1]) {
		s.drop(DropTopic, nil)
		return
	}
	owner := ShardOf(levels[1], s.cfg.Shards)
	if owner == s.cfg.Shard {
		s.Handle(topic, payload)
		return
	}
	if levels[2] == wire.KindStatus.Topic() {
		return // the owner gets it too (plain subscription)
	}
	s.mu.Lock()
	ok := s.allow(levels[1], s.now())
	s.mu.Unlock()
	if !ok {
		s.drop(DropFlood, nil)
		return
	}
	select {
	case s.fwd <- fwdMsg{fmt.Sprintf("%s%d/%s/%s", fp, owner, levels[1], levels[2]), payload}:
	default:
		s.drop(DropForward, nil)
	}
}

// forward publishes queued messages of other shards on cli until it
// goes away.
func (s *Service) forward(ctx context.Context, cli *paho.Client) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-cli.Done():
			return
		case m := <-s.fwd:
			if _, err := cli.Publish(ctx, &paho.Publish{Topic: m.topic, Payload: m.payload, QoS: 1}); err != nil {
				s.drop(DropForward, nil)
				continue
			}
			s.forwarded.Add(1)
		}
	}
}

// Run opens the state file, serves HTTP and consumes the broker until ctx
// is cancelled; it reconnects when the broker goes away.
func (s *Service) Run(ctx context.Context) error {
	if err := s.Open(); err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	if s.cfg.Listen != "" {
		ln, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("fleetd: listen: %w", err)
		}
		srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("fleetd: http: %w", err)
			}
		}()
		go func() {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			_ = srv.Shutdown(sctx)
		}()
		s.log.Info("fleet: serving", "addr", ln.Addr().String())
	}
	if s.cfg.MQTT.Broker != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.consume(ctx); err != nil {
				errs <- err
			}
		}()
	}
	tick := time.NewTicker(s.cfg.FlushEvery)
	defer tick.Stop()
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-errs:
			break loop
		case <-tick.C:
			if ferr := s.Flush(); ferr != nil {
				s.log.Warn("fleet: state file", "err", ferr)
			}
		}
	}
	cancel()
	wg.Wait()
	return err
}

// consume keeps one subscribed connection.
func (s *Service) consume(ctx context.Context) error {
	o := s.cfg.MQTT
	if o.ClientID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		o.ClientID = "edgerec-fleetd-" + hex.EncodeToString(b[:])
	}
	o.OnPublishReceived = func(pr paho.PublishReceived) (bool, error) {
		s.receive(pr.Packet.Topic, pr.Packet.Payload)
		return true, nil
	}
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		cli, _, err := mqttc.Connect(ctx, o)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if p := mqttc.Classify(err); p.Code != "uplink.down" {
				return fmt.Errorf("fleetd: %s: %w", strings.TrimPrefix(p.Text, "uplink: "), err)
			}
			s.log.Warn("fleet: broker", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 500 * time.Millisecond
		var subs []paho.SubscribeOptions
		for _, f := range s.cfg.Filters() {
			subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: 1})
		}
		sa, err := cli.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
		if err != nil {
			_ = cli.Disconnect(&paho.Disconnect{})
			continue
		}
		for i, rc := range sa.Reasons {
			if rc >= 0x80 {
				_ = cli.Disconnect(&paho.Disconnect{})
				return fmt.Errorf("fleetd: the broker refused the subscription %q (reason 0x%02x)", subs[i].Topic, rc)
			}
		}
		s.connected.Store(true)
		if s.fwd != nil {
			go s.forward(ctx, cli)
		}
		select {
		case <-ctx.Done():
			_ = cli.Disconnect(&paho.Disconnect{})
		case <-cli.Done():
		}
		s.connected.Store(false)
	}
	return nil
}
