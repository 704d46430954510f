package uplink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/outbox"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// Errors.
var (
	// ErrNotDurable: the outbox could not write (disk full or failing); the
	// message is held in memory, in order, and written when the disk
	// recovers. Do not submit it again.
	ErrNotDurable = outbox.ErrNotDurable
	// ErrDropped: the message could not be kept at all (see the
	// outbox.overflow event).
	ErrDropped = outbox.ErrFull
	// ErrInvalid: the event or audit record does not fit the schema.
	ErrInvalid = wire.ErrInvalid
	// ErrClosed: the uplink has stopped.
	ErrClosed = errors.New("uplink: closed")
)

// Alert codes the uplink raises on its own (see AlertSink).
const (
	AlertDown       = "uplink.down"        // no connection for DownGrace
	AlertTLSCA      = "uplink.tls.ca"      // broker certificate not trusted (wrong CA)
	AlertTLSRefused = "uplink.tls.refused" // broker refused our client certificate
	AlertTLSFiles   = "uplink.tls.files"   // CA/cert/key files unreadable
	AlertAuth       = "uplink.auth"        // CONNACK refused (credentials, not authorized)
	AlertConfig     = "uplink.config"      // broker URL not usable
	AlertRefused    = "uplink.refused"     // broker refused a publish (PUBACK error)
	AlertOutbox     = "uplink.outbox"      // outbox writes failing (disk full?)
	AlertBacklog    = "uplink.backlog"     // outbox more than 80 % full
)

var connectAlerts = []string{AlertDown, AlertTLSCA, AlertTLSRefused, AlertTLSFiles, AlertAuth, AlertConfig}

// Uplink is the metadata uplink. Create it with New, run it with Run; Event
// and Audit may be called from any goroutine, before or while Run runs.
type Uplink struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	now   func() time.Time
	ob    *outbox.Outbox
	boot  string
	start time.Time

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}

	mu          sync.Mutex
	connected   bool
	downSince   time.Time
	lastProblem string
	published   uint64
}

// New checks the configuration and opens the outbox. It does not connect.
func New(cfg Config, deps Deps) (*Uplink, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Health == nil {
		return nil, fmt.Errorf("%w: Deps.Health is required", ErrConfig)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Board == nil {
		deps.Board = BoardFunc(noBoard)
	}
	var bootID [8]byte
	if _, err := rand.Read(bootID[:]); err != nil {
		return nil, fmt.Errorf("uplink: boot id: %w", err)
	}
	u := &Uplink{
		cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now,
		boot: hex.EncodeToString(bootID[:]), start: deps.Now(), closed: make(chan struct{}),
	}
	u.downSince = u.start
	ob, err := outbox.Open(cfg.OutboxPath, outbox.Options{
		MaxBytes:   cfg.OutboxMaxBytes,
		Overflow:   u.overflowPayload,
		Logger:     deps.Logger,
		Now:        deps.Now,
		WriteFault: deps.OutboxWriteFault,
	})
	if err != nil {
		return nil, err
	}
	u.ob = ob
	return u, nil
}

// Boot is this run's boot id (random, sent in every message).
func (u *Uplink) Boot() string { return u.boot }

// Connected reports whether the broker connection is up.
func (u *Uplink) Connected() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.connected
}

// OutboxStats describes the outbox.
func (u *Uplink) OutboxStats() outbox.Stats { return u.ob.Stats() }

// Topic returns the topic of a message kind for this device.
func (u *Uplink) Topic(k wire.Kind) string {
	return u.cfg.TopicPrefix + "/" + u.cfg.DeviceID + "/" + k.Topic()
}

// Close closes the outbox (Run does it when it returns). Idempotent.
func (u *Uplink) Close() error {
	u.closeOnce.Do(func() {
		close(u.closed)
		u.closeErr = u.ob.Close()
	})
	return u.closeErr
}

func (u *Uplink) isClosed() bool {
	select {
	case <-u.closed:
		return true
	default:
		return false
	}
}

// Run publishes until ctx is cancelled, then keeps publishing the outbox for
// up to FlushTimeout, marks the device offline and closes the outbox. It
// returns nil on cancellation.
func (u *Uplink) Run(ctx context.Context) error {
	if u.isClosed() {
		return ErrClosed
	}
	defer u.Close()
	u.log.Info("uplink starting", "broker", redactBroker(u.cfg.Broker), "device", u.cfg.DeviceID, "boot", u.boot,
		"beacon_interval", u.cfg.BeaconInterval, "outbox", u.cfg.OutboxPath, "backlog", u.ob.Stats().Count)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); u.produce(ctx) }()
	go func() { defer wg.Done(); u.connLoop(ctx) }()
	wg.Wait()
	return nil
}

// ---------------------------------------------------------------------------
// Producing: beacons, derived events, housekeeping.

func (u *Uplink) produce(ctx context.Context) {
	beacon := time.NewTicker(u.cfg.BeaconInterval)
	defer beacon.Stop()
	watch := time.NewTicker(u.cfg.WatchInterval)
	defer watch.Stop()
	w := newWatcher(u)
	w.baseline(u.deps.Health.Snapshot())
	u.enqueueBeacon()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beacon.C:
			u.enqueueBeacon()
		case <-watch.C:
			w.diff(u.deps.Health.Snapshot())
			u.housekeeping()
		}
	}
}

// housekeeping retries a failed outbox, and raises or resolves the outbox
// and down alerts.
func (u *Uplink) housekeeping() {
	if u.ob.WriteErr() != nil {
		_ = u.ob.Retry()
	}
	if err := u.ob.WriteErr(); err != nil {
		u.raise(AlertOutbox, health.SevCritical, "uplink: cannot write the outbox ("+err.Error()+"); messages are held in memory; recording is not affected")
	} else {
		u.resolve(AlertOutbox)
	}
	st := u.ob.Stats()
	if st.Bytes > st.MaxBytes*8/10 {
		u.raise(AlertBacklog, health.SevWarning, fmt.Sprintf("uplink: outbox %d%% full (%d messages waiting); oldest events will be dropped when full", st.Bytes*100/st.MaxBytes, st.Count))
	} else {
		u.resolve(AlertBacklog)
	}
	u.mu.Lock()
	down := !u.connected && u.now().Sub(u.downSince) >= u.cfg.DownGrace
	since, problem := u.downSince, u.lastProblem
	u.mu.Unlock()
	if down && (problem == "" || problem == AlertDown) {
		u.raise(AlertDown, health.SevWarning, fmt.Sprintf("uplink: no connection to the broker since %s; %d messages waiting in the outbox", since.UTC().Format(time.RFC3339), st.Count))
	}
}

func (u *Uplink) raise(code string, sev health.Severity, text string) {
	if u.deps.Alerts != nil {
		u.deps.Alerts.Raise(code, sev, text)
	}
}

func (u *Uplink) resolve(code string) {
	if u.deps.Alerts != nil {
		u.deps.Alerts.Resolve(code)
	}
}

// ---------------------------------------------------------------------------
// Connecting and publishing.

func (u *Uplink) connLoop(ctx context.Context) {
	backoff := u.cfg.RetryMin
	for ctx.Err() == nil {
		cli, err := u.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			u.noteProblem(err)
			d := backoff/2 + mrand.N(backoff/2+1)
			backoff = min(backoff*2, u.cfg.RetryMax)
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
			continue
		}
		backoff = u.cfg.RetryMin
		u.noteUp()
		err = u.serve(ctx, cli)
		u.noteDown(err)
	}
}

func (u *Uplink) mqttOptions(will []byte) mqttc.Options {
	return mqttc.Options{
		Broker: u.cfg.Broker, AllowPlaintext: u.cfg.AllowPlaintext,
		CAFile: u.cfg.CAFile, CertFile: u.cfg.CertFile, KeyFile: u.cfg.KeyFile, KeyPEM: u.cfg.KeyPEM,
		Username: u.cfg.Username, Password: u.cfg.Password,
		ClientID:  "edgerec-" + u.cfg.DeviceID,
		KeepAlive: u.cfg.KeepAlive, ConnectTimeout: u.cfg.ConnectTimeout, PacketTimeout: u.cfg.PacketTimeout,
		Will:           &paho.WillMessage{Topic: u.Topic(wire.KindStatus), Payload: will, QoS: 1, Retain: true},
		WillProperties: &paho.WillProperties{ContentType: wire.KindStatus.ContentType()},
		OnClientError: func(err error) {
			u.log.Debug("uplink connection error", "err", err)
		},
	}
}

func (u *Uplink) connect(ctx context.Context) (*paho.Client, error) {
	will, err := u.statusPayload(wire.StateOffline)
	if err != nil {
		return nil, err
	}
	cli, _, err := mqttc.Connect(ctx, u.mqttOptions(will))
	return cli, err
}

func (u *Uplink) noteProblem(err error) {
	p := mqttc.Classify(err)
	u.mu.Lock()
	changed := p.Code != u.lastProblem
	u.lastProblem = p.Code
	u.mu.Unlock()
	if changed {
		u.log.Warn("uplink: cannot connect", "problem", p.Code, "err", err)
	} else {
		u.log.Debug("uplink: cannot connect", "problem", p.Code, "err", err)
	}
	for _, c := range connectAlerts {
		if c != p.Code && c != AlertDown {
			u.resolve(c)
		}
	}
	if p.Code != AlertDown {
		// TLS, credentials and configuration problems do not heal by waiting.
		u.raise(p.Code, health.SevCritical, p.Text)
	}
}

func (u *Uplink) noteUp() {
	u.mu.Lock()
	u.connected, u.lastProblem = true, ""
	u.mu.Unlock()
	for _, c := range connectAlerts {
		u.resolve(c)
	}
	u.resolve(AlertRefused)
	u.log.Info("uplink connected", "broker", redactBroker(u.cfg.Broker), "backlog", u.ob.Stats().Count)
}

func (u *Uplink) noteDown(err error) {
	u.mu.Lock()
	u.connected = false
	u.downSince = u.now()
	u.mu.Unlock()
	u.ob.Release()
	if err != nil && !errors.Is(err, context.Canceled) {
		u.log.Warn("uplink connection lost", "err", err)
	}
}

var errConnLost = errors.New("uplink: connection lost")

// ackBatch and ackEvery bound how many acknowledged records may be re-sent
// (with the same id) after a power cut: removals are committed in batches.
const (
	ackBatch = 64
	ackEvery = 200 * time.Millisecond
	window   = 32
)

// serve publishes the outbox in order on one connection until it drops or
// ctx is cancelled.
func (u *Uplink) serve(ctx context.Context, cli *paho.Client) error {
	status, err := u.statusPayload(wire.StateOnline)
	if err != nil {
		return err
	}
	if err := u.publish(ctx, cli, wire.KindStatus, status, true); err != nil {
		cli.Disconnect(&paho.Disconnect{})
		return err
	}
	var (
		acks      []uint64
		lastFlush = time.Now()
		after     uint64
	)
	flush := func() {
		if len(acks) == 0 {
			return
		}
		if err := u.ob.Ack(acks...); err != nil {
			u.log.Warn("uplink: cannot remove acknowledged records (they will be sent again)", "err", err)
		}
		acks, lastFlush = acks[:0], time.Now()
	}
	defer flush()
	u.ob.Release()
	for {
		if ctx.Err() != nil {
			return u.shutdown(cli, after, flush, &acks)
		}
		recs, err := u.ob.Next(after, window)
		if err != nil {
			u.log.Error("uplink: reading the outbox", "err", err)
		}
		if len(recs) == 0 {
			flush()
			wait := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
			case <-cli.Done():
				wait.Stop()
				return errConnLost
			case <-u.ob.Notify():
			case <-wait.C:
			}
			wait.Stop()
			continue
		}
		for _, r := range recs {
			if err := u.publish(ctx, cli, r.Kind, r.Payload, false); err != nil {
				if ctx.Err() != nil {
					return u.shutdown(cli, after, flush, &acks)
				}
				cli.Disconnect(&paho.Disconnect{})
				return err
			}
			acks, after = append(acks, r.ID), r.ID
			if len(acks) >= ackBatch || time.Since(lastFlush) >= ackEvery {
				flush()
			}
		}
	}
}

// shutdown publishes what it can within FlushTimeout, marks the device
// offline and disconnects.
func (u *Uplink) shutdown(cli *paho.Client, after uint64, flush func(), acks *[]uint64) error {
	fctx, cancel := context.WithTimeout(context.Background(), u.cfg.FlushTimeout)
	defer cancel()
	for fctx.Err() == nil {
		recs, err := u.ob.Next(after, window)
		if err != nil || len(recs) == 0 {
			break
		}
		ok := true
		for _, r := range recs {
			if err := u.publish(fctx, cli, r.Kind, r.Payload, false); err != nil {
				ok = false
				break
			}
			*acks, after = append(*acks, r.ID), r.ID
		}
		if !ok {
			break
		}
	}
	flush()
	if st, err := u.statusPayload(wire.StateOffline); err == nil {
		_ = u.publish(fctx, cli, wire.KindStatus, st, true)
	}
	_ = cli.Disconnect(&paho.Disconnect{ReasonCode: 0})
	left := u.ob.Stats().Count
	u.log.Info("uplink stopped", "left_in_outbox", left)
	return context.Canceled
}

func (u *Uplink) publish(ctx context.Context, cli *paho.Client, k wire.Kind, payload []byte, retain bool) error {
	_, err := cli.Publish(ctx, &paho.Publish{
		QoS: 1, Retain: retain, Topic: u.Topic(k), Payload: payload,
		Properties: &paho.PublishProperties{ContentType: k.ContentType()},
	})
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			select {
			case <-cli.Done():
			default:
				// The broker answered with an error reason code (PUBACK ≥ 0x80).
				u.raise(AlertRefused, health.SevCritical, fmt.Sprintf("uplink: the broker refused a %s message (%v); it stays queued", k, err))
			}
		}
		return fmt.Errorf("uplink: publish %s: %w", k, err)
	}
	u.mu.Lock()
	u.published++
	u.mu.Unlock()
	return nil
}

func redactBroker(s string) string {
	if b, err := mqttc.ParseBroker(s, true); err == nil {
		return b.Host
	}
	return "(invalid)"
}
