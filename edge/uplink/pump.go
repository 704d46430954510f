package uplink

import (
	"context"
	"errors"
	"fmt"
	"github.com/edgerec/edgerec/hal/fsutil"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/wire"
	"github.com/edgerec/edgerec/policy/audit"
)

// AuditSource is where the pump reads the audit log: records with Seq > seq,
// in order, at most max (policy.Store.AuditAfter).
type AuditSource interface {
	AuditAfter(ctx context.Context, seq uint64, max int) ([]audit.Record, error)
}

// AuditQueue is where the pump puts records (the Uplink).
type AuditQueue interface {
	Audit(ctx context.Context, a AuditRecord) error
	Event(ctx context.Context, e Event) error
}

// PumpConfig configures an AuditPump.
type PumpConfig struct {
	// PosFile keeps the seq of the last record queued (decimal and a
	// newline), rewritten atomically. Default <DataDir>/uplink-audit.seq.
	PosFile string
	DataDir string
	Batch   int           // records read at once; default 256
	Poll    time.Duration // how often to look for new records; default 1 s
	// RetryMin, RetryMax bound the backoff after a read or queue error
	// (defaults 1 s and 30 s).
	RetryMin, RetryMax time.Duration
}

// PumpDeps are the pump's collaborators.
type PumpDeps struct {
	Source AuditSource
	Queue  AuditQueue
	Logger *slog.Logger
}

// PumpFile is the position file's name in the data dir.
const PumpFile = "uplink-audit.seq"

// AuditPump forwards every audit record, in chain order, to the uplink
// (R16). It never stalls on one record: a record the wire schema refuses
// goes upstream as a placeholder (seq, time, hash, prev, action
// wire.ActionWithheld, no ids) with an audit.withheld event, and is counted
// (Withheld); queue errors (outbox full, disk failing) are retried with
// backoff, never skipped. The position survives restarts.
type AuditPump struct {
	cfg      PumpConfig
	deps     PumpDeps
	log      *slog.Logger
	pos      atomic.Uint64
	withheld atomic.Uint64
}

// NewAuditPump checks the configuration and reads the saved position.
func NewAuditPump(cfg PumpConfig, deps PumpDeps) (*AuditPump, error) {
	if deps.Source == nil || deps.Queue == nil {
		return nil, fmt.Errorf("%w: audit pump needs a source and a queue", ErrConfig)
	}
	if cfg.PosFile == "" {
		if cfg.DataDir == "" {
			return nil, fmt.Errorf("%w: audit pump needs PosFile or DataDir", ErrConfig)
		}
		cfg.PosFile = filepath.Join(cfg.DataDir, PumpFile)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(30*time.Second, cfg.RetryMin)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	p := &AuditPump{cfg: cfg, deps: deps, log: deps.Logger}
	b, err := os.ReadFile(cfg.PosFile)
	switch {
	case err == nil:
		v, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil {
			// Sending the log again (duplicates carry the same seq) beats
			// never sending it.
			p.log.Error("audit pump: position file unreadable; forwarding from the start", "file", cfg.PosFile, "err", perr)
		}
		p.pos.Store(v)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("uplink: audit position: %w", err)
	}
	return p, nil
}

// Position is the seq of the last record queued.
func (p *AuditPump) Position() uint64 { return p.pos.Load() }

// Withheld counts the records sent as placeholders since the pump started.
func (p *AuditPump) Withheld() uint64 { return p.withheld.Load() }

// Run forwards records until ctx is cancelled (then nil) or the queue is
// closed (ErrClosed).
func (p *AuditPump) Run(ctx context.Context) error {
	backoff := p.cfg.RetryMin
	saved := p.pos.Load()
	for {
		wait := p.cfg.Poll
		err := p.step(ctx)
		if pos := p.pos.Load(); pos != saved {
			if serr := p.save(pos); serr != nil {
				p.log.Error("audit pump: save position", "err", serr)
			} else {
				saved = pos
			}
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrClosed):
			return err
		case err != nil:
			wait = backoff
			backoff = min(backoff*2, p.cfg.RetryMax)
		default:
			backoff = p.cfg.RetryMin
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// step forwards what is there now; it returns the first error that must
// be retried (the position stays before that record).
func (p *AuditPump) step(ctx context.Context) error {
	for {
		pos := p.pos.Load()
		recs, err := p.deps.Source.AuditAfter(ctx, pos, p.cfg.Batch)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("audit pump: read", "after", pos, "err", err)
			}
			return err
		}
		for i := range recs {
			r := &recs[i]
			if r.Seq != p.pos.Load()+1 {
				err := fmt.Errorf("uplink: audit source gave seq %d after %d", r.Seq, p.pos.Load())
				p.log.Error("audit pump: read", "err", err)
				return err
			}
			if err := p.forward(ctx, r); err != nil {
				return err
			}
			p.pos.Store(r.Seq)
		}
		if len(recs) < p.cfg.Batch {
			return nil
		}
	}
}

// forward queues one record, or its placeholder when the schema refuses it.
func (p *AuditPump) forward(ctx context.Context, r *audit.Record) error {
	h, err := audit.HashRecord(r)
	if err != nil {
		p.log.Error("audit pump: hash", "seq", r.Seq, "err", err)
		return err
	}
	a := AuditRecord{
		Seq: r.Seq, Time: time.Unix(0, r.Time), Actor: r.Actor, Action: r.Action,
		Grant: r.Grant, OK: r.Result == "" || r.Result == audit.ResultOK, Hash: h, Prev: r.Prev,
	}
	if r.Target != "" {
		if r.TargetKind == audit.KindCamera {
			a.Cameras = []string{r.Target}
		} else {
			a.Targets = []string{r.Target}
		}
	}
	err = p.queue(ctx, r.Seq, a)
	if !errors.Is(err, ErrInvalid) {
		return err
	}
	// A permanent encode error: the record goes as a placeholder, so the
	// chain stays linkable upstream and the pump moves on.
	p.log.Warn("audit pump: record cannot be encoded; sending a placeholder", "seq", r.Seq, "action", clipLog(r.Action), "err", err)
	ph := AuditRecord{Seq: r.Seq, Time: a.Time, Action: wire.ActionWithheld, Hash: h, Prev: r.Prev}
	if err := p.queue(ctx, r.Seq, ph); err != nil {
		return err
	}
	n := p.withheld.Add(1)
	if err := p.deps.Queue.Event(ctx, Event{Kind: EventAuditWithheld, Code: "unencodable", Count: r.Seq, Value: int64(n)}); err != nil && !errors.Is(err, ErrNotDurable) {
		p.log.Warn("audit pump: audit.withheld event not queued", "seq", r.Seq, "err", err)
	}
	return nil
}

// queue puts one record in the queue: nil also when the outbox holds it in
// memory only (ErrNotDurable: it must not be submitted again).
func (p *AuditPump) queue(ctx context.Context, seq uint64, a AuditRecord) error {
	err := p.deps.Queue.Audit(ctx, a)
	switch {
	case err == nil, errors.Is(err, ErrNotDurable):
		return nil
	case errors.Is(err, ErrInvalid):
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	p.log.Warn("audit pump: queue (will retry)", "seq", seq, "err", err)
	return err
}

// save writes the position atomically (hal/fsutil: temp file, fsync,
// rename, fsync dir).
func (p *AuditPump) save(pos uint64) error {
	if err := fsutil.WriteFile(p.cfg.PosFile, []byte(strconv.FormatUint(pos, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("uplink: save audit position: %w", err)
	}
	return nil
}

// clipLog bounds a string from a record for a log line, control
// characters replaced.
func clipLog(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return '?'
		}
		return c
	}, s)
}
