package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/storage"
)

// Store is the part of *storage.Store the service uses.
type Store interface {
	Stats() storage.Stats
	Horizon() storage.Horizon
	ApplyRetention(ctx context.Context, maxAge map[string]time.Duration) (storage.RetentionReport, error)
	Holds(ctx context.Context) ([]storage.HoldInfo, error)
	Hold(ctx context.Context, camera string, from, to time.Time, ref string) (uint64, error)
	ReleaseHold(ctx context.Context, holdID uint64, ref string) error
}

// Policy is the part of *policy.Store the service uses.
type Policy interface {
	Grants(ctx context.Context) ([]grants.Grant, error)
	Audit(ctx context.Context, e audit.Event) (audit.Record, error)
	DisableStale(ctx context.Context) ([]string, error)
}

// Health is the part of *health.Tracker the service uses.
type Health interface {
	SetStorage(s health.Storage)
	Raise(code string, sev health.Severity, text string)
	Resolve(code string)
}

// Defaults of Config's zero values.
const (
	DefaultStatsEvery     = 2 * time.Second
	DefaultRetentionEvery = 10 * time.Minute
	DefaultHoldsEvery     = 5 * time.Second
	DefaultStaleEvery     = 24 * time.Hour
	// DefaultHoldReviewAge is how old a legal hold may get before it raises
	// a review alert (R8, issue 12).
	DefaultHoldReviewAge = 90 * 24 * time.Hour
)

// Config sets the floor and the periods (zero = the defaults above).
type Config struct {
	// Floor is the policy's retention floor: a horizon below it raises the
	// R7 alert (0 = no alert).
	Floor          time.Duration
	StatsEvery     time.Duration
	RetentionEvery time.Duration
	HoldsEvery     time.Duration
	StaleEvery     time.Duration
	HoldReviewAge  time.Duration
}

// Deps are the service's collaborators. Store, Policy and Health are
// required.
type Deps struct {
	Store  Store
	Policy Policy
	Health Health
	// Retention returns the maximum age per configured camera (R6); nil
	// or an empty map: retention is not applied.
	Retention func() map[string]time.Duration
	Logger    *slog.Logger // nil = discard
	Now       func() time.Time
}

// Service is the retention, legal-hold and stale-account housekeeping.
type Service struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	lastRetention time.Time // only the stats loop touches it
}

// New checks deps and fills in defaults.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Store == nil || deps.Policy == nil || deps.Health == nil {
		return nil, errors.New("retention: Store, Policy and Health are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.StatsEvery, DefaultStatsEvery)
	def(&cfg.RetentionEvery, DefaultRetentionEvery)
	def(&cfg.HoldsEvery, DefaultHoldsEvery)
	def(&cfg.StaleEvery, DefaultStaleEvery)
	def(&cfg.HoldReviewAge, DefaultHoldReviewAge)
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Retention == nil {
		deps.Retention = func() map[string]time.Duration { return nil }
	}
	return &Service{cfg: cfg, deps: deps, log: deps.Logger}, nil
}

// Run runs the three loops (storage figures and retention, legal holds,
// stale accounts), each once at once, until ctx ends; it returns nil then.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, l := range []struct {
		every time.Duration
		step  func(context.Context)
	}{
		{s.cfg.StatsEvery, s.maintain},
		{s.cfg.HoldsEvery, s.ApplyHolds},
		{s.cfg.StaleEvery, s.disableStale},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			every(ctx, l.every, l.step)
		}()
	}
	wg.Wait()
	return nil
}

// every runs step now and then every d until ctx ends.
func every(ctx context.Context, d time.Duration, step func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maintain publishes the storage figures, raises or clears the storage and
// horizon alerts, and applies retention when it is due.
func (s *Service) maintain(ctx context.Context) {
	s.publishStats()
	if now := s.deps.Now(); now.Sub(s.lastRetention) > s.cfg.RetentionEvery {
		if s.ApplyRetention(ctx) {
			s.lastRetention = now
		}
	}
}

func (s *Service) publishStats() {
	st := s.deps.Store.Stats()
	hz := s.deps.Store.Horizon()
	h := s.deps.Health
	h.SetStorage(health.Storage{
		RingBytes: st.RingBytes, UsedBytes: st.UsedBytes, Segments: int(st.Segments),
		Oldest: st.Oldest, Horizon: hz.Duration, HorizonFloor: s.cfg.Floor,
		Cipher: st.Cipher, ClosedSegment: uint64(st.ClosedSegments),
	})
	if st.Failed != nil {
		h.Raise("storage", health.SevWarning, "storage stopped: "+st.Failed.Error())
	}
	if hz.Below(s.cfg.Floor) {
		h.Raise("horizon", health.SevWarning, fmt.Sprintf("retention horizon %s at the observed bitrate is below the policy floor %s (R7)", HumanDuration(hz.Duration), HumanDuration(s.cfg.Floor)))
	} else {
		h.Resolve("horizon")
	}
}

// ApplyRetention applies each configured camera's retention once (R6); it
// reports whether it ran (false: no camera is configured).
func (s *Service) ApplyRetention(ctx context.Context) bool {
	maxAge := s.deps.Retention()
	if len(maxAge) == 0 {
		return false
	}
	rep, err := s.deps.Store.ApplyRetention(ctx, maxAge)
	if err != nil && ctx.Err() != nil {
		return true // stopping: not a failure
	}
	if err != nil {
		s.log.Error("retention", "err", err)
		s.deps.Health.Raise("retention", health.SevWarning, "retention failed: "+err.Error())
	} else {
		s.log.Debug("retention applied", "report", rep)
		s.deps.Health.Resolve("retention")
	}
	return true
}

// ApplyHolds brings the store's legal holds (R8) in step with the policy's
// legal-hold grants once: an approved legal_hold grant places a hold on
// each of its cameras for its range (the segments are copied, still
// sealed, to the hold area before the ring can overwrite them); the hold
// outlives the grant's validity (a hold lasts until it is released) and is
// released only when the grant is revoked, with its reason, by the
// four-eyes flow. Each hold's reference is "<grant id>:<camera>".
func (s *Service) ApplyHolds(ctx context.Context) {
	gs, err := s.deps.Policy.Grants(ctx)
	if err != nil {
		if ctx.Err() == nil { // stopping is not a failure
			s.log.Error("holds: read grants", "err", err)
		}
		return
	}
	holds, err := s.deps.Store.Holds(ctx)
	if err != nil {
		s.log.Error("holds: read holds", "err", err)
		return
	}
	have := s.reviewHolds(holds)
	for i := range gs {
		g := &gs[i]
		if g.Action != grants.LegalHold {
			continue
		}
		for _, cam := range g.Cameras {
			ref := g.ID + ":" + cam
			id, placed := have[ref]
			switch {
			case g.Status == grants.Approved && g.Issued != 0 && !placed:
				s.placeHold(ctx, g, cam, ref)
			case g.Status == grants.Revoked && placed:
				s.releaseHold(ctx, g, cam, ref, id)
			}
		}
	}
}

// reviewHolds returns the placed holds by reference and raises (or
// resolves) the review alert of each: a hold outlives its grant; past the
// review age it is shown as an alert (page, beacon, LED) until an approver
// releases or an operator renews it (R8, issue 12).
func (s *Service) reviewHolds(holds []storage.HoldInfo) map[string]uint64 {
	have := make(map[string]uint64, len(holds))
	now := s.deps.Now()
	for _, h := range holds {
		have[h.Ref] = h.ID
		code := "hold.review:" + h.Ref
		if age := now.Sub(h.Created); age > s.cfg.HoldReviewAge {
			s.deps.Health.Raise(code, health.SevWarning, fmt.Sprintf("legal hold %s on camera %s is %d days old: review it (an approver releases it)",
				strings.SplitN(h.Ref, ":", 2)[0], h.Camera, int(age.Hours()/24)))
		} else {
			s.deps.Health.Resolve(code)
		}
	}
	return have
}

func (s *Service) placeHold(ctx context.Context, g *grants.Grant, cam, ref string) {
	from, to := time.Unix(0, g.From), time.Unix(0, g.To)
	hid, err := s.deps.Store.Hold(ctx, cam, from, to, ref)
	res, detail := audit.ResultOK, "hold placed"
	if err != nil {
		res, detail = "failed", err.Error()
		s.deps.Health.Raise("hold:"+cam, health.SevCritical, "legal hold "+g.ID+" could not be placed: "+err.Error())
		s.log.Error("holds: place", "grant", g.ID, "camera", cam, "err", err)
	} else {
		s.deps.Health.Resolve("hold:" + cam)
		s.log.Info("legal hold placed", "grant", g.ID, "camera", cam, "hold", hid)
	}
	_, _ = s.deps.Policy.Audit(ctx, audit.Event{Actor: "device", Action: "hold.place", TargetKind: audit.KindCamera, Target: cam, Grant: g.ID, Result: res, Detail: strings.TrimSpace(detail)})
}

func (s *Service) releaseHold(ctx context.Context, g *grants.Grant, cam, ref string, id uint64) {
	if err := s.deps.Store.ReleaseHold(ctx, id, ref); err != nil {
		s.log.Error("holds: release", "grant", g.ID, "camera", cam, "err", err)
		return
	}
	s.deps.Health.Resolve("hold.review:" + ref)
	s.log.Info("legal hold released", "grant", g.ID, "camera", cam)
	_, _ = s.deps.Policy.Audit(ctx, audit.Event{Actor: "device", Action: "hold.release", TargetKind: audit.KindCamera, Target: cam, Grant: g.ID, Result: audit.ResultOK})
}

// disableStale disables stale accounts (R14), audited by the policy store
// as "system".
func (s *Service) disableStale(ctx context.Context) {
	ids, err := s.deps.Policy.DisableStale(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("stale accounts: review failed", "err", err)
	case len(ids) > 0:
		s.log.Warn("stale accounts disabled (R14)", "users", ids)
	}
}

// HumanDuration formats a retention-scale duration: days, hours or minutes.
func HumanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%.1f hours", d.Hours())
	default:
		return fmt.Sprintf("%.0f minutes", d.Minutes())
	}
}
