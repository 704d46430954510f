package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/policy"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/storage"
)

// applyHolds keeps the store's legal holds (R8) in step with the policy's
// legal-hold grants: an approved legal_hold grant places a hold on each of
// its cameras for its range (the segments are copied, still sealed, to the
// hold area before the ring can overwrite them); the hold outlives the
// grant's validity (a hold lasts until it is released) and is released
// only when the grant is revoked, with its reason, by the four-eyes flow.
// Each hold's reference is "<grant id>:<camera>".
func applyHolds(ctx context.Context, ps *policy.Store, st *storage.Store, tracker *health.Tracker, log *slog.Logger) {
	gs, err := ps.Grants(ctx)
	if err != nil {
		log.Error("holds: read grants", "err", err)
		return
	}
	holds, err := st.Holds(ctx)
	if err != nil {
		log.Error("holds: read holds", "err", err)
		return
	}
	have := map[string]uint64{}
	now := time.Now()
	for _, h := range holds {
		have[h.Ref] = h.ID
		// A hold outlives its grant; past the review age it is shown as an
		// alert (page, beacon, LED) until an approver releases or an
		// operator renews it (R8, issue 12).
		code := "hold.review:" + h.Ref
		if age := now.Sub(h.Created); age > holdReviewAge {
			tracker.Raise(code, health.SevWarning, fmt.Sprintf("legal hold %s on camera %s is %d days old: review it (an approver releases it)",
				strings.SplitN(h.Ref, ":", 2)[0], h.Camera, int(age.Hours()/24)))
		} else {
			tracker.Resolve(code)
		}
	}
	for i := range gs {
		g := &gs[i]
		if g.Action != grants.LegalHold {
			continue
		}
		from, to := time.Unix(0, g.From), time.Unix(0, g.To)
		for _, cam := range g.Cameras {
			ref := g.ID + ":" + cam
			id, placed := have[ref]
			switch {
			case g.Status == grants.Approved && g.Issued != 0 && !placed:
				hid, err := st.Hold(ctx, cam, from, to, ref)
				res, detail := audit.ResultOK, "hold placed"
				if err != nil {
					res, detail = "failed", err.Error()
					tracker.Raise("hold:"+cam, health.SevCritical, "legal hold "+g.ID+" could not be placed: "+err.Error())
					log.Error("holds: place", "grant", g.ID, "camera", cam, "err", err)
				} else {
					tracker.Resolve("hold:" + cam)
					log.Info("legal hold placed", "grant", g.ID, "camera", cam, "hold", hid)
				}
				_, _ = ps.Audit(ctx, audit.Event{Actor: "device", Action: "hold.place", TargetKind: audit.KindCamera, Target: cam, Grant: g.ID, Result: res, Detail: strings.TrimSpace(detail)})
			case g.Status == grants.Revoked && placed:
				if err := st.ReleaseHold(ctx, id, ref); err != nil {
					log.Error("holds: release", "grant", g.ID, "camera", cam, "err", err)
					continue
				}
				tracker.Resolve("hold.review:" + ref)
				log.Info("legal hold released", "grant", g.ID, "camera", cam)
				_, _ = ps.Audit(ctx, audit.Event{Actor: "device", Action: "hold.release", TargetKind: audit.KindCamera, Target: cam, Grant: g.ID, Result: audit.ResultOK})
			}
		}
	}
}

// holdReviewAge is how old a legal hold may get before it raises a review
// alert.
const holdReviewAge = 90 * 24 * time.Hour

// runStale disables stale accounts (R14) at start and then daily, audited
// by the policy store as "system".
func runStale(ctx context.Context, ps *policy.Store, log *slog.Logger) {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		ids, err := ps.DisableStale(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("stale accounts: review failed", "err", err)
		case len(ids) > 0:
			log.Warn("stale accounts disabled (R14)", "users", ids)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runHolds applies holds now and every few seconds until ctx ends.
func runHolds(ctx context.Context, ps *policy.Store, st *storage.Store, tracker *health.Tracker, log *slog.Logger) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		applyHolds(ctx, ps, st, tracker, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
