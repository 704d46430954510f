package web

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgerec/edgerec/edge/live"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/perm"
)

// Live view re-authorization (issue 12; R11, R15, R16, R18). A WHEP session
// outlives the request that authorized it, so the LAN page checks every
// running viewer again:
//
//   - every Config.LiveRecheck (default 2 s, at most 5 s) in liveWatch, and
//   - at once after a call that can take the right away (logout, password
//     change or reset, disable, role revoke or approval, training change).
//
// A viewer is closed when the login session it was opened under is gone
// (logout, expiry, password change or reset, disable, revoke), when
// policy.Store.Check(user, cameras.live, camera) — the check the WHEP route
// itself uses — refuses (expired or revoked role, disabled account, camera
// outside the scope, operator without training, and any refusal the policy
// store adds later), or when it has run Config.LiveMaxDuration. Each closing
// is audited once as live.stop with the reason.

// liveWatch re-checks the live viewers until ctx ends.
func (s *Server) liveWatch(ctx context.Context) {
	if s.deps.Live == nil {
		return
	}
	t := time.NewTicker(s.cfg.LiveRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweepLive(ctx)
		}
	}
}

// sweepLive closes every live viewer that may no longer watch. It is safe
// to run concurrently: live.End reports which call closed a session, and
// only that one audits.
func (s *Server) sweepLive(ctx context.Context) {
	if s.deps.Live == nil {
		return
	}
	ctx = context.WithoutCancel(ctx) // a finished request must not skip a closing
	now := s.now()
	for _, ls := range s.deps.Live.Sessions() {
		actor, why := s.liveRefusal(ctx, ls, now)
		if why == "" {
			continue
		}
		if !s.deps.Live.End(ls.ID, why) {
			continue
		}
		ev := audit.Event{Actor: actor, Action: "live.stop", TargetKind: audit.KindCamera, Target: clip(ls.Camera, 200), Result: audit.ResultOK,
			Detail: clip(fmt.Sprintf("live session %s of user %s closed after %s: %s", ls.ID, ls.Viewer.User,
				now.Sub(ls.Started).Round(time.Second), why), 1000)}
		if _, err := s.pol.Audit(ctx, ev); err != nil {
			s.log.Error("web: audit live stop", "err", err)
		}
		s.log.Info("web: live view closed", "user", ls.Viewer.User, "camera", ls.Camera, "session", ls.ID, "why", why)
	}
}

// liveRefusal returns why ls must stop ("" = it may go on) and the actor
// the closing is audited under.
func (s *Server) liveRefusal(ctx context.Context, ls live.SessionInfo, now time.Time) (actor, why string) {
	if ok, n := s.sess.alive(ls.Viewer.Session); !ok {
		if n.actor == "" {
			n.actor = policy.ActorSystem
		}
		return n.actor, n.why
	}
	if err := s.pol.Check(ctx, ls.Viewer.User, perm.CameraLive, ls.Camera); err != nil {
		if !errors.Is(err, policy.ErrForbidden) && !errors.Is(err, policy.ErrNotFound) {
			// Fail closed: a viewer whose right cannot be confirmed stops.
			s.log.Error("web: live re-check", "user", ls.Viewer.User, "err", err)
			return policy.ActorSystem, "authorization could not be checked"
		}
		return policy.ActorSystem, "no longer authorized: " + clip(stripPrefixes(err.Error()), 300)
	}
	if max := s.cfg.LiveMaxDuration; max > 0 && now.Sub(ls.Started) >= max {
		return policy.ActorSystem, fmt.Sprintf("maximum live duration %s reached", max)
	}
	return "", ""
}
