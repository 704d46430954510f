package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/edgerec/edgerec/edge/uplink/mqttc"
	"github.com/edgerec/edgerec/edge/uplink/wire"
)

// Config configures the view.
type Config struct {
	MQTT   mqttc.Options // broker, TLS files, credentials (ClientID is generated when empty)
	Prefix string        // topic prefix; default "edgerec"
	Share  string        // shared subscription group; "" = plain subscription
	JSON   bool          // stream JSON lines instead of a table
	// Refresh is how often the table is redrawn and silence is checked;
	// default 2 s.
	Refresh time.Duration
	// StaleAfter is how many beacon intervals without a beacon make an
	// online gateway "silent"; default 3.
	StaleAfter float64
	// TTY: clear the screen before each table (when stdout is a terminal).
	TTY bool
	Now func() time.Time
}

// Gateway is one row of the view.
type Gateway struct {
	Device     string        `json:"device"`
	Online     bool          `json:"online"`
	Status     string        `json:"status"` // online, offline or "" (no status seen)
	Boot       string        `json:"boot,omitempty"`
	Firmware   string        `json:"firmware,omitempty"`
	LastBeacon time.Time     `json:"last_beacon"`  // when the last beacon arrived (console clock)
	BeaconAge  float64       `json:"beacon_age_s"` // seconds since LastBeacon (-1 = never)
	Interval   time.Duration `json:"-"`            // the gateway's beacon interval
	IntervalS  float64       `json:"beacon_interval_s"`
	CamsOK     int           `json:"cams_ok"`
	CamsTotal  int           `json:"cams_total"`
	HorizonS   int64         `json:"horizon_s"`
	FloorS     int64         `json:"floor_s"`
	BelowFloor bool          `json:"below_floor"`
	Alerts     []string      `json:"alerts"`
	Backlog    uint32        `json:"backlog"`
	Events     int           `json:"events"`
	Audit      int           `json:"audit"`
	LastAudit  uint64        `json:"last_audit_seq"`
	Silent     bool          `json:"silent"` // online, but beacons stopped
	seen       time.Time
}

// View is the gateways seen so far. Safe for concurrent use.
type View struct {
	cfg     Config
	mu      sync.Mutex
	gws     map[string]*Gateway
	invalid int
}

// NewView returns an empty view.
func NewView(cfg Config) *View {
	if cfg.Prefix == "" {
		cfg.Prefix = "edgerec"
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 2 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &View{cfg: cfg, gws: map[string]*Gateway{}}
}

// Line is one JSON line of --json output.
type Line struct {
	Type    string       `json:"type"` // status, beacon, event, audit, gateway, invalid
	Time    time.Time    `json:"time"`
	Device  string       `json:"device,omitempty"`
	Status  *wire.Status `json:"status,omitempty"`
	Beacon  *wire.Beacon `json:"beacon,omitempty"`
	Event   *wire.Event  `json:"event,omitempty"`
	Audit   *wire.Audit  `json:"audit,omitempty"`
	Gateway *Gateway     `json:"gateway,omitempty"`
	Error   string       `json:"error,omitempty"`
}

func (v *View) gw(dev string) *Gateway {
	g, ok := v.gws[dev]
	if !ok {
		g = &Gateway{Device: dev, Alerts: []string{}, Interval: time.Minute}
		v.gws[dev] = g
	}
	return g
}

// Handle applies one received message and returns the lines to print in
// JSON mode (the message, then the gateway's new row).
func (v *View) Handle(topic string, payload []byte) []Line {
	now := v.cfg.Now()
	levels := strings.Split(topic, "/")
	bad := func(err string) []Line {
		v.mu.Lock()
		v.invalid++
		v.mu.Unlock()
		return []Line{{Type: "invalid", Time: now, Error: fmt.Sprintf("%s: %s", topic, err)}}
	}
	if len(levels) < 3 {
		return bad("unexpected topic")
	}
	dev := levels[len(levels)-2]
	k, ok := wire.KindOfTopic(levels[len(levels)-1])
	if !ok {
		return bad("unknown message type")
	}
	msg, err := wire.Decode(k, payload)
	if err != nil {
		return bad(err.Error())
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	g := v.gw(dev)
	g.seen = now
	line := Line{Type: k.Topic(), Time: now, Device: dev}
	switch m := msg.(type) {
	case *wire.Status:
		line.Status = m
		g.Status, g.Online, g.Boot, g.Firmware = m.State, m.State == wire.StateOnline, m.Boot, m.Firmware
		if m.Interval > 0 {
			g.Interval = time.Duration(m.Interval) * time.Second
		}
	case *wire.Beacon:
		line.Beacon = m
		if g.Status == "" {
			g.Online = true
		}
		g.LastBeacon, g.Boot, g.Firmware = now, m.Boot, m.Firmware
		if m.Interval > 0 {
			g.Interval = time.Duration(m.Interval) * time.Second
		}
		g.CamsTotal, g.CamsOK = int(m.CamsTotal), 0
		for _, c := range m.Cameras {
			if c.State == wire.CamRecording && c.Image == 0 {
				g.CamsOK++
			}
		}
		g.HorizonS, g.FloorS = m.HorizonS, m.FloorS
		g.BelowFloor = m.FloorS > 0 && m.HorizonS > 0 && m.HorizonS < m.FloorS
		g.Alerts = g.Alerts[:0]
		for _, a := range m.Alerts {
			g.Alerts = append(g.Alerts, a.Code)
		}
		g.Backlog = m.Backlog
	case *wire.Event:
		line.Event = m
		g.Events++
	case *wire.Audit:
		line.Audit = m
		g.Audit++
		g.LastAudit = m.Seq
	}
	v.refresh(g, now)
	row := *g
	return []Line{line, {Type: "gateway", Time: now, Device: dev, Gateway: &row}}
}

// refresh recomputes the derived fields of g. Callers hold v.mu.
func (v *View) refresh(g *Gateway, now time.Time) bool {
	g.IntervalS = g.Interval.Seconds()
	g.BeaconAge = -1
	ref := g.seen
	if !g.LastBeacon.IsZero() {
		g.BeaconAge = now.Sub(g.LastBeacon).Seconds()
		ref = g.LastBeacon
	}
	was := g.Silent
	g.Silent = g.Online && now.Sub(ref) > time.Duration(v.cfg.StaleAfter*float64(g.Interval))
	return g.Silent != was
}

// Check recomputes ages and silence; it returns the rows whose silent flag
// changed.
func (v *View) Check() []Gateway {
	now := v.cfg.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	var changed []Gateway
	for _, g := range v.gws {
		if v.refresh(g, now) {
			changed = append(changed, *g)
		}
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Device < changed[j].Device })
	return changed
}

// Rows returns the gateways, sorted by device id.
func (v *View) Rows() []Gateway {
	v.Check()
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]Gateway, 0, len(v.gws))
	for _, g := range v.gws {
		r := *g
		r.Alerts = append([]string(nil), g.Alerts...)
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out
}

func days(s int64) string {
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fd", float64(s)/86400)
}

// Render writes the table.
func (v *View) Render(w io.Writer) {
	rows := v.Rows()
	v.mu.Lock()
	invalid := v.invalid
	v.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "DEVICE\tSTATUS\tLAST BEACON\tCAMERAS OK\tHORIZON/FLOOR\tBACKLOG\tALERTS\tFLAGS\n")
	silent := 0
	for _, g := range rows {
		status := g.Status
		if status == "" {
			status = "?"
		}
		age := "never"
		if g.BeaconAge >= 0 {
			age = (time.Duration(g.BeaconAge * float64(time.Second))).Round(time.Second).String() + " ago"
		}
		var flags []string
		if g.Silent {
			flags = append(flags, "SILENT")
			silent++
		}
		if g.BelowFloor {
			flags = append(flags, "BELOW-FLOOR")
		}
		if g.CamsOK < g.CamsTotal {
			flags = append(flags, "CAMERAS")
		}
		alerts := strings.Join(g.Alerts, ",")
		if alerts == "" {
			alerts = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s/%s\t%d\t%s\t%s\n", g.Device, status, age, g.CamsOK, g.CamsTotal,
			days(g.HorizonS), days(g.FloorS), g.Backlog, alerts, strings.Join(flags, " "))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d gateway(s), %d silent, %d invalid message(s) — %s\n", len(rows), silent, invalid, v.cfg.Now().UTC().Format(time.RFC3339))
}

// Filters returns the subscriptions: <prefix>/+/#, as $share/<group>/… when
// sharing, plus the plain status topic (shared subscriptions get no
// retained messages, and the retained status is what says online/offline).
func (c Config) Filters() []string {
	prefix := c.Prefix
	if prefix == "" {
		prefix = "edgerec"
	}
	all := prefix + "/+/#"
	if c.Share == "" {
		return []string{all}
	}
	return []string{"$share/" + c.Share + "/" + all, prefix + "/+/status"}
}

// Run connects, subscribes and renders until ctx is cancelled (reconnecting
// when the broker goes away).
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	v := NewView(cfg)
	cfg = v.cfg
	if cfg.MQTT.ClientID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.MQTT.ClientID = "edgerec-fleet-" + hex.EncodeToString(b[:])
	}
	if _, err := mqttc.ParseBroker(cfg.MQTT.Broker, cfg.MQTT.AllowPlaintext); err != nil {
		return err
	}
	if _, err := mqttc.TLSConfig(cfg.MQTT, ""); err != nil {
		return err
	}
	var outMu sync.Mutex
	enc := json.NewEncoder(out)
	emit := func(ls ...Line) {
		if !cfg.JSON {
			return
		}
		outMu.Lock()
		defer outMu.Unlock()
		for _, l := range ls {
			_ = enc.Encode(l)
		}
	}
	o := cfg.MQTT
	o.OnPublishReceived = func(pr paho.PublishReceived) (bool, error) {
		emit(v.Handle(pr.Packet.Topic, pr.Packet.Payload)...)
		return true, nil
	}
	errs := make(chan error, 1)
	go func() {
		errs <- connectLoop(ctx, cfg, o, emit)
	}()
	tick := time.NewTicker(cfg.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-errs
			return nil
		case err := <-errs:
			return err
		case <-tick.C:
			for _, g := range v.Check() {
				emit(Line{Type: "gateway", Time: cfg.Now(), Device: g.Device, Gateway: &g})
			}
			if !cfg.JSON {
				outMu.Lock()
				if cfg.TTY {
					fmt.Fprint(out, "\x1b[H\x1b[2J")
				} else {
					fmt.Fprintln(out)
				}
				v.Render(out)
				outMu.Unlock()
			}
		}
	}
}

// connectLoop keeps one subscribed connection; it returns an error only for
// problems that waiting cannot fix (bad URL, TLS files, refused
// credentials).
func connectLoop(ctx context.Context, cfg Config, o mqttc.Options, emit func(...Line)) error {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		cli, _, err := mqttc.Connect(ctx, o)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p := mqttc.Classify(err)
			if p.Code != "uplink.down" {
				return fmt.Errorf("fleet: %s: %w", strings.TrimPrefix(p.Text, "uplink: "), err)
			}
			emit(Line{Type: "invalid", Time: cfg.Now(), Error: "broker: " + err.Error()})
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
		for _, f := range cfg.Filters() {
			subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: 1})
		}
		sa, err := cli.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
		if err != nil {
			_ = cli.Disconnect(&paho.Disconnect{})
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		for i, rc := range sa.Reasons {
			if rc >= 0x80 {
				_ = cli.Disconnect(&paho.Disconnect{})
				return fmt.Errorf("fleet: the broker refused the subscription %q (reason 0x%02x)", subs[i].Topic, rc)
			}
		}
		select {
		case <-ctx.Done():
			_ = cli.Disconnect(&paho.Disconnect{})
			return nil
		case <-cli.Done():
		}
	}
	return nil
}
