package policy

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
)

// Coverage changes (R27) are requested with Request (action
// grants.Coverage), approved with Approve like any grant (four eyes), and
// then applied by the camera manager, which consumes the grant here first.

// ActorDevice is the actor of what the device does on its own (applying
// an approved change at start, refusing a stale one).
const ActorDevice = "device"

// UseCoverage consumes approved coverage grant id for the change whose
// proposal has digest, once: the grant must be issued, unexpired,
// unrevoked, for that digest and not used before. actorID is who triggers
// the application (the approver, or ActorDevice at start). Used or
// refused, it is audited ("grant.use.coverage") citing the grant.
func (s *Store) UseCoverage(ctx context.Context, id, actorID, digest string) error {
	now := s.now()
	var refused error
	err := s.update(ctx, func(tx *bolt.Tx) error {
		refused = nil
		g, err := getGrant(tx, id)
		if errors.Is(err, ErrCorrupt) {
			return err
		}
		ev := audit.Event{Actor: actorID, Action: "grant.use." + grants.Coverage, TargetKind: audit.KindCamera, Grant: id, Result: audit.ResultOK}
		if err == nil {
			if len(g.Cameras) == 1 {
				ev.Target = g.Cameras[0]
			}
			ev.Detail = "kind=" + g.Kind + " digest=" + g.Digest
			err = g.CheckApply(digest, now)
		}
		if err != nil {
			refused = err
			ev.Result, ev.Detail = audit.ResultDenied, err.Error()
			_, aerr := s.audit.AppendTx(tx, ev)
			return aerr
		}
		if err := putGrant(tx, &g); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, ev)
		return err
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return fmt.Errorf("policy: use coverage grant %s: %w", id, err)
	}
	return nil
}

// RefuseCoverage ends coverage request or grant id that can no longer be
// applied as approved (the camera's config changed since the request, or
// its proposal is gone): it is revoked by ActorDevice with reason and the
// refusal is audited ("coverage.conflict") citing the grant. A grant that
// is already final is left as it is.
func (s *Store) RefuseCoverage(ctx context.Context, id, reason string) error {
	if err := grants.CheckText("reason", reason, 500); err != nil {
		return err
	}
	now := s.now()
	err := s.update(ctx, func(tx *bolt.Tx) error {
		g, err := getGrant(tx, id)
		if err != nil {
			return err
		}
		if g.Action != grants.Coverage {
			return fmt.Errorf("%w: %s is not a coverage grant", ErrInvalid, id)
		}
		target := ""
		if len(g.Cameras) == 1 {
			target = g.Cameras[0]
		}
		if st := g.State(now); st == grants.Requested || st == grants.Approved {
			g.Status, g.DecidedBy, g.DecidedAt, g.Reason = grants.Revoked, ActorDevice, now.UnixNano(), reason
			if err := putGrant(tx, &g); err != nil {
				return err
			}
		}
		_, err = s.audit.AppendTx(tx, audit.Event{Actor: ActorDevice, Action: "coverage.conflict", TargetKind: audit.KindCamera, Target: target,
			Grant: id, Result: audit.ResultDenied, Detail: reason})
		return err
	})
	if err != nil {
		return fmt.Errorf("policy: refuse coverage grant %s: %w", id, err)
	}
	return nil
}

// UseUpdate consumes approved update grant id (issue 16, R21) for the
// bundle with digest, once: issued, unexpired, unrevoked, for that digest,
// not used before. Used or refused, it is audited ("grant.use.update")
// citing the grant.
func (s *Store) UseUpdate(ctx context.Context, id, actorID, digest string) error {
	now := s.now()
	var refused error
	err := s.update(ctx, func(tx *bolt.Tx) error {
		refused = nil
		g, err := getGrant(tx, id)
		if errors.Is(err, ErrCorrupt) {
			return err
		}
		ev := audit.Event{Actor: actorID, Action: "grant.use." + grants.Update, TargetKind: audit.KindDevice, Grant: id, Result: audit.ResultOK,
			Detail: "digest=" + digest}
		if err == nil && g.Action != grants.Update {
			err = fmt.Errorf("%w: %s grants %s, not update", grants.ErrOutOfScope, id, g.Action)
		}
		if err == nil {
			err = g.CheckApply(digest, now)
		}
		if err != nil {
			refused = err
			ev.Result, ev.Detail = audit.ResultDenied, err.Error()
			_, aerr := s.audit.AppendTx(tx, ev)
			return aerr
		}
		if err := putGrant(tx, &g); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, ev)
		return err
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return fmt.Errorf("policy: use update grant %s: %w", id, err)
	}
	return nil
}
