package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/review"
	"github.com/edgerec/edgerec/policy/users"
)

// Request files a request (R12) or a role assignment (R13, Action "role")
// for actorID. Bad input is refused with a clear error and nothing is
// written; a valid request is stored and audited in one transaction.
func (s *Store) Request(ctx context.Context, actorID string, r grants.Request) (grants.Grant, error) {
	now := s.now()
	var g grants.Grant
	err := s.update(ctx, func(tx *bolt.Tx) error {
		_, a, err := s.actor(tx, actorID, now)
		if err != nil {
			return err
		}
		id, err := grants.NewID()
		if err != nil {
			return err
		}
		g, err = grants.New(id, r, a, s.m, s.cfg.Limits, now)
		if err != nil {
			return err
		}
		if g.Action == grants.AssignRole {
			if _, err := getUser(tx, g.Subject); err != nil {
				return fmt.Errorf("subject: %w", err)
			}
			if g.Supersedes != "" {
				old, err := getGrant(tx, g.Supersedes)
				if err != nil || old.Action != grants.AssignRole || old.Subject != g.Subject {
					return fmt.Errorf("%w: supersedes %q is not a role assignment of %s", ErrInvalid, g.Supersedes, g.Subject)
				}
			}
		}
		if err := putGrant(tx, &g); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, audit.Event{Actor: actorID, Action: "grant.request", TargetKind: audit.KindGrant, Target: g.ID,
			Grant: g.ID, Result: audit.ResultOK, Detail: g.Summary()})
		return err
	})
	if err != nil {
		return grants.Grant{}, fmt.Errorf("policy: request: %w", err)
	}
	return g, nil
}

// decide loads grant id and actor, runs fn (a state change), and stores and
// audits the result in one transaction. A refusal is audited too (in its
// own commit, with nothing else changed) and returned.
func (s *Store) decide(ctx context.Context, actorID, id, action string, fn func(tx *bolt.Tx, g *grants.Grant, a grants.Actor, now time.Time) error) (grants.Grant, error) {
	now := s.now()
	var g grants.Grant
	var refused error
	err := s.update(ctx, func(tx *bolt.Tx) error {
		refused = nil
		var err error
		if g, err = getGrant(tx, id); err != nil {
			return err
		}
		_, a, err := s.actor(tx, actorID, now)
		if err == nil {
			err = fn(tx, &g, a, now)
		}
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				return err
			}
			refused = err
			_, aerr := s.audit.AppendTx(tx, audit.Event{Actor: actorID, Action: action, TargetKind: audit.KindGrant, Target: id, Grant: id,
				Result: audit.ResultDenied, Detail: err.Error()})
			return aerr
		}
		if err := putGrant(tx, &g); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, audit.Event{Actor: actorID, Action: action, TargetKind: audit.KindGrant, Target: id, Grant: id,
			Result: audit.ResultOK, Detail: g.Reason})
		return err
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return grants.Grant{}, fmt.Errorf("policy: %s %s: %w", action, id, err)
	}
	return g, nil
}

// Approve approves request id as actorID (four eyes: not the requester, a
// role with grants.approve held since before the request was filed).
// Approval issues the grant; for a role assignment it also sets the
// subject's role (replacing and revoking the previous assignment: a
// change). An admin assigning the first approver on a device that has none
// is the one bootstrap exception (grants doc): it can happen once in the
// device's life (recorded in the meta bucket, audited, and announced
// upstream); afterwards, even with every approver gone, a new approver
// needs an existing one.
func (s *Store) Approve(ctx context.Context, actorID, id string) (grants.Grant, error) {
	var boot, bootRefused, self bool
	g, err := s.decide(ctx, actorID, id, "grant.approve", func(tx *bolt.Tx, g *grants.Grant, a grants.Actor, now time.Time) error {
		boot, bootRefused, self = false, false, false
		var err error
		if g.Action == grants.AssignRole && g.Role == string(perm.Approver) && a.ID == g.Requester && a.Role == perm.Admin {
			has, herr := s.hasApprover(tx, now)
			if herr != nil {
				return herr
			}
			switch {
			case has:
				err = g.Approve(a, s.m, now) // refuses: self-approval
			case bootstrapUsed(tx):
				bootRefused = true
				err = fmt.Errorf("%w: the first-approver exception was already used on this device; an existing approver must approve", ErrForbidden)
			default:
				if err = g.ApproveBootstrap(a, now); err == nil {
					boot = true
					err = tx.Bucket(bucketMeta).Put(metaBootstrap, []byte(g.ID))
				}
			}
		} else {
			u, _, aerr := s.actor(tx, actorID, now)
			if aerr != nil {
				return aerr
			}
			if err = checkSeniority(tx, &u, g, now); err == nil {
				err = g.Approve(a, s.m, now)
			}
		}
		if errors.Is(err, grants.ErrSelfApproval) {
			self = true
		}
		if err != nil {
			return err
		}
		if g.Action == grants.AssignRole {
			return s.issueRole(tx, g, a.ID, now)
		}
		return nil
	})
	switch {
	case boot:
		s.security(SecBootstrapUsed, actorID, id, err == nil)
	case bootRefused:
		s.security(SecBootstrapRefused, actorID, id, false)
	case self:
		s.security(SecSelfApproval, actorID, id, false)
	}
	return g, err
}

func (s *Store) hasApprover(tx *bolt.Tx, now time.Time) (bool, error) {
	found := false
	err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		u, err := users.Decode(v)
		if err != nil {
			return fmt.Errorf("%w: user %s: %w", ErrCorrupt, k, err)
		}
		if u.CurrentRole(now) == string(perm.Approver) {
			found = true
		}
		return nil
	})
	return found, err
}

// issueRole gives g's subject g's role, revoking the assignment it replaces.
func (s *Store) issueRole(tx *bolt.Tx, g *grants.Grant, by string, now time.Time) error {
	u, err := getUser(tx, g.Subject)
	if err != nil {
		return err
	}
	for _, old := range []string{u.RoleGrant, g.Supersedes} {
		if old == "" || old == g.ID {
			continue
		}
		og, err := getGrant(tx, old)
		if err != nil {
			return err
		}
		if og.State(now) == grants.Approved || og.State(now) == grants.Requested {
			og.Status, og.DecidedBy, og.DecidedAt, og.Reason = grants.Revoked, by, now.UnixNano(), "superseded by "+g.ID
			if err := putGrant(tx, &og); err != nil {
				return err
			}
			if _, err := s.audit.AppendTx(tx, audit.Event{Actor: by, Action: "grant.revoke", TargetKind: audit.KindGrant, Target: og.ID,
				Grant: og.ID, Result: audit.ResultOK, Detail: og.Reason}); err != nil {
				return err
			}
		}
	}
	u.Role, u.RoleGrant, u.RoleExpires, u.Cameras = g.Role, g.ID, g.Expires, slices.Clone(g.Cameras)
	return putUser(tx, &u)
}

// Deny refuses request id with a reason (same four-eyes rule as Approve).
func (s *Store) Deny(ctx context.Context, actorID, id, reason string) (grants.Grant, error) {
	return s.decide(ctx, actorID, id, "grant.deny", func(_ *bolt.Tx, g *grants.Grant, a grants.Actor, now time.Time) error {
		return g.Deny(a, reason, s.m, now)
	})
}

// Revoke ends a pending request or an active grant with a reason (the
// requester, or a role with grants.revoke). Revoking a role assignment
// removes the subject's role at once.
func (s *Store) Revoke(ctx context.Context, actorID, id, reason string) (grants.Grant, error) {
	g, err := s.revoke(ctx, actorID, id, reason)
	if err == nil && g.Action == grants.AssignRole {
		s.security(SecRoleRevoked, actorID, g.Subject, true)
	}
	return g, err
}

func (s *Store) revoke(ctx context.Context, actorID, id, reason string) (grants.Grant, error) {
	return s.decide(ctx, actorID, id, "grant.revoke", func(tx *bolt.Tx, g *grants.Grant, a grants.Actor, now time.Time) error {
		if err := g.Revoke(a, reason, s.m, now); err != nil {
			return err
		}
		if g.Action != grants.AssignRole {
			return nil
		}
		u, err := getUser(tx, g.Subject)
		if err != nil {
			return err
		}
		if u.RoleGrant == g.ID {
			u.Role, u.RoleGrant, u.RoleExpires, u.Cameras = "", "", 0, nil
			return putUser(tx, &u)
		}
		return nil
	})
}

// ReleaseHold releases legal hold id (R8) with a reason: an approver who
// did not request the hold decides (four eyes), at any time — also after
// the grant's validity ended, since a hold outlives its grant and must
// never become permanent by expiry. The grant is marked revoked with
// "hold released: <reason>"; the daemon then releases the stored hold.
func (s *Store) ReleaseHold(ctx context.Context, actorID, id, reason string) (grants.Grant, error) {
	return s.decide(ctx, actorID, id, "hold.release.decide", func(tx *bolt.Tx, g *grants.Grant, a grants.Actor, now time.Time) error {
		if err := grants.CheckText("reason", reason, 500); err != nil {
			return err
		}
		if g.Action != grants.LegalHold {
			return fmt.Errorf("%w: %s is not a legal hold", ErrInvalid, g.ID)
		}
		if g.Status != grants.Approved || g.Issued == 0 {
			return fmt.Errorf("%w: %s is %s, not a placed hold", ErrInvalid, g.ID, g.State(now))
		}
		if a.ID == g.Requester {
			return fmt.Errorf("%w: %s: the requester of a hold cannot release it", grants.ErrSelfApproval, g.ID)
		}
		if !s.m.Allows(a.Role, perm.GrantsApprove) {
			return fmt.Errorf("%w: role %q cannot release holds", ErrForbidden, a.Role)
		}
		g.Status, g.DecidedBy, g.DecidedAt, g.Reason = grants.Revoked, a.ID, now.UnixNano(), "hold released: "+reason
		return nil
	})
}

// UseGrant checks and records one use of grant id by actorID: action
// (grants.Playback, Export, LegalHold, Decommission), camera and range for
// footage ("" and zero times for decommission). It returns nil only if an
// approved, unexpired, unrevoked grant held by actorID covers it, the
// actor's account is enabled, their current role may still hold such a
// grant, and (operators) they have a training date (R15). Every call, used
// or refused, is audited citing the grant id.
func (s *Store) UseGrant(ctx context.Context, id, actorID, action, camera string, from, to time.Time) error {
	now := s.now()
	var refused error
	err := s.update(ctx, func(tx *bolt.Tx) error {
		refused = nil
		g, err := getGrant(tx, id)
		if errors.Is(err, ErrCorrupt) {
			return err
		}
		var u users.User
		var a grants.Actor
		if err == nil {
			u, a, err = s.actor(tx, actorID, now)
		}
		if err == nil {
			err = s.mayHold(&u, a.Role, action, camera)
		}
		if err == nil {
			err = g.CheckUse(a, grants.Use{Action: action, Camera: camera, From: from, To: to}, now)
		}
		ev := audit.Event{Actor: actorID, Action: "grant.use." + action, TargetKind: audit.KindCamera, Target: camera, Grant: id, Result: audit.ResultOK}
		if camera == "" {
			ev.TargetKind, ev.Target = audit.KindDevice, ""
		}
		if !from.IsZero() {
			ev.Detail = from.UTC().Format(time.RFC3339) + ".." + to.UTC().Format(time.RFC3339)
		}
		if err != nil {
			refused = err
			ev.Result, ev.Detail = audit.ResultDenied, strings.TrimPrefix(ev.Detail+"; "+err.Error(), "; ")
			_, aerr := s.audit.AppendTx(tx, ev)
			return aerr
		}
		u.LastUse = now.UnixNano()
		if err := putGrant(tx, &g); err != nil {
			return err
		}
		if err := putUser(tx, &u); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, ev)
		return err
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return fmt.Errorf("policy: use grant %s: %w", id, err)
	}
	return nil
}

func (s *Store) mayHold(u *users.User, role perm.Role, action, camera string) error {
	var p perm.Permission
	switch action {
	case grants.Playback:
		p = perm.Playback
	case grants.Export:
		p = perm.Export
	case grants.LegalHold:
		p = perm.LegalHold
	case grants.Decommission:
		p = perm.Decommission
	default:
		return fmt.Errorf("%w: action %q cannot be used", ErrInvalid, action)
	}
	if !s.m.MayHoldGrant(role, p) {
		return fmt.Errorf("%w: role %q may not hold %s", ErrForbidden, role, p)
	}
	info, _ := s.m.Info(p)
	return s.conditions(u, role, info, camera)
}

// Grant returns grant id.
func (s *Store) Grant(ctx context.Context, id string) (grants.Grant, error) {
	var g grants.Grant
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		g, err = getGrant(tx, id)
		return err
	})
	return g, err
}

// Grants lists all requests, grants and role assignments.
func (s *Store) Grants(ctx context.Context) ([]grants.Grant, error) {
	var out []grants.Grant
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGrants).ForEach(func(k, v []byte) error {
			g, err := grants.Decode(v)
			if err != nil {
				return fmt.Errorf("%w: grant %s: %w", ErrCorrupt, k, err)
			}
			out = append(out, g)
			return nil
		})
	})
	return out, err
}

// Review builds the permission review report (R14).
func (s *Store) Review(ctx context.Context) (review.Report, error) {
	us, err := s.Users(ctx)
	if err != nil {
		return review.Report{}, err
	}
	gs, err := s.Grants(ctx)
	if err != nil {
		return review.Report{}, err
	}
	now := s.now()
	rep := review.Build(us, gs, now, review.Config{DisableAfter: s.cfg.StaleAfter})
	err = s.view(ctx, func(tx *bolt.Tx) error {
		vs, err := visitsTx(tx, now.Add(-review.VisitWindow), now.Add(time.Nanosecond))
		for _, v := range vs {
			rep.Visits = append(rep.Visits, review.Visit{ID: v.ID, At: v.At, Who: v.ActorName, Cameras: v.Cameras, Work: v.Work})
		}
		return err
	})
	return rep, err
}

// DisableStale disables the accounts the review picks (idle for
// Config.StaleAfter; never the last admin), audited as "system", and
// returns their ids. The daemon calls it daily.
func (s *Store) DisableStale(ctx context.Context) ([]string, error) {
	var ids []string
	now := s.now()
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ids = nil
		var us []users.User
		var gs []grants.Grant
		if err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			u, err := users.Decode(v)
			us = append(us, u)
			return err
		}); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		rep := review.Build(us, gs, now, review.Config{DisableAfter: s.cfg.StaleAfter})
		for _, a := range rep.Accounts {
			if !a.Disable {
				continue
			}
			reason := fmt.Sprintf("stale: no activity since %s (R14)", a.LastActivity.Format(time.DateOnly))
			if err := s.setDisabledTx(tx, ActorSystem, a.ID, true, reason, now); err != nil {
				return err
			}
			ids = append(ids, a.ID)
		}
		return nil
	})
	return ids, err
}
