package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/users"
)

// Restored is what a replacement gateway takes over from the signed
// backup of the device it replaces (issue 18, R26: "replacing a gateway").
// The caller (edge/provision) has verified the backup's signature against
// the old device's pinned key.
type Restored struct {
	FromDevice string    // the old device's id
	FromKey    string    // the old device's key fingerprint (export.KeyID)
	Created    time.Time // when the backup was taken
	By         string    // who took it
	Head       uint64    // the old device's audit head seq in the backup
	HeadHash   string    // hex SHA-256 hash of that head record
	Users      []RestoredUser
}

// RestoredUser is an account of the old device: its name and what it held
// there. Only the name, camera scope, training date and disabled state are
// taken over; the role is recorded (Restore's report, the meta bucket) but
// not issued.
type RestoredUser struct {
	Name     string
	Role     string // at the time of the backup; not issued here
	Cameras  []string
	Trained  time.Time
	Disabled bool
}

// errNoPassword: a restored account has no password until an admin gives
// it a one-time one (which the owner then replaces).
var errNoPassword = errors.New("no password yet (an account restored from the replaced device: an admin gives it a one-time password)")

// metaRestored holds the JSON of the restore (from device, head, roles at
// the time of the backup) for the review and the auditors.
var metaRestored = []byte("restored.from")

// Restore takes over the accounts of the device a freshly provisioned
// gateway replaces. It is allowed only on a store with no user, grant or
// audit record yet, so its audit record is the device's first: it links
// the new device's chain to the old device's head (seq and hash) and
// names the old device's key.
//
// The single-person invariant (doc.go) holds across a restore: accounts
// come back without a password (nobody can log in to them until an admin
// gives a one-time password, which the owner must replace) and without a
// role. The first admin is claimed with the LAN page's one-time setup code
// (Bootstrap); every other role comes back only through the four-eyes
// role flow, the first approver through the device's one-time bootstrap
// exception, announced upstream like on any new gateway. A backup is a
// signed copy of state a device had, not an authority: it cannot give
// anyone a role.
func (s *Store) Restore(ctx context.Context, r Restored) error {
	if r.FromDevice == "" || r.HeadHash == "" {
		return fmt.Errorf("%w: restore: the backup names no device or audit head", ErrInvalid)
	}
	seen := map[string]bool{}
	for _, u := range r.Users {
		if err := users.CheckName(u.Name); err != nil {
			return fmt.Errorf("%w: restore: user %q: %w", ErrInvalid, u.Name, err)
		}
		if seen[u.Name] {
			return fmt.Errorf("%w: restore: user %q twice", ErrInvalid, u.Name)
		}
		seen[u.Name] = true
	}
	now := s.now()
	meta, err := json.Marshal(restoredMeta{From: r.FromDevice, Key: r.FromKey, Created: r.Created, By: r.By, Head: r.Head, HeadHash: r.HeadHash,
		At: now.UTC(), Roles: restoredRoles(r.Users)})
	if err != nil {
		return fmt.Errorf("policy: restore: %w", err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketUsers).Cursor().First(); k != nil {
			return fmt.Errorf("%w: restore: this device has users already; restore only onto a freshly provisioned gateway", ErrForbidden)
		}
		if k, _ := tx.Bucket(bucketGrants).Cursor().First(); k != nil {
			return fmt.Errorf("%w: restore: this device has grants already; restore only onto a freshly provisioned gateway", ErrForbidden)
		}
		rec, err := s.audit.AppendTx(tx, audit.Event{Actor: ActorSystem, Action: "device.restore", TargetKind: audit.KindDevice, Target: r.FromDevice,
			Result: audit.ResultOK, Detail: fmt.Sprintf("replaces device %s (key %s): continues its audit chain at head seq %d hash %s; backup of %s by %s; %d accounts without password or role",
				r.FromDevice, r.FromKey, r.Head, r.HeadHash, r.Created.UTC().Format(time.RFC3339), r.By, len(r.Users))})
		if err != nil {
			return err
		}
		if rec.Seq != 1 { // rolled back with the transaction
			return fmt.Errorf("%w: restore: this device's audit log has %d records; restore only onto a freshly provisioned gateway", ErrForbidden, rec.Seq-1)
		}
		for _, ru := range r.Users {
			id, err := users.NewID()
			if err != nil {
				return err
			}
			u := users.User{ID: id, Name: ru.Name, Created: now.UnixNano(), Cameras: slices.Clone(ru.Cameras), Disabled: ru.Disabled}
			if !ru.Trained.IsZero() {
				u.Trained = ru.Trained.UnixNano()
			}
			if err := putUser(tx, &u); err != nil {
				return err
			}
			if err := tx.Bucket(bucketNames).Put([]byte(u.Name), []byte(id)); err != nil {
				return err
			}
			detail := "restored from " + r.FromDevice + ": no password, no role"
			if ru.Role != "" {
				detail += " (was " + ru.Role + ": request it again)"
			}
			if _, err := s.audit.AppendTx(tx, audit.Event{Actor: ActorSystem, Action: "user.restore", TargetKind: audit.KindUser, Target: id,
				Result: audit.ResultOK, Detail: detail}); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaRestored, meta)
	})
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	s.log.Info("policy: accounts restored from the replaced device", "from", r.FromDevice, "users", len(r.Users), "head", r.Head)
	return nil
}

type restoredMeta struct {
	From     string            `json:"from_device"`
	Key      string            `json:"from_key"`
	Created  time.Time         `json:"backup_created"`
	By       string            `json:"backup_by"`
	Head     uint64            `json:"audit_head_seq"`
	HeadHash string            `json:"audit_head_hash"`
	At       time.Time         `json:"restored"`
	Roles    map[string]string `json:"roles_at_backup,omitempty"`
}

func restoredRoles(us []RestoredUser) map[string]string {
	m := map[string]string{}
	for _, u := range us {
		if u.Role != "" {
			m[u.Name] = u.Role
		}
	}
	return m
}

// RestoredFrom reports the restore this device started from (ok false
// when it did not): the old device, its audit head, and the roles its
// accounts held at the time of the backup.
func (s *Store) RestoredFrom(ctx context.Context) (from string, head uint64, headHash string, roles map[string]string, ok bool, err error) {
	var m restoredMeta
	err = s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta).Get(metaRestored)
		if b == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(b, &m)
	})
	return m.From, m.Head, m.HeadHash, m.Roles, ok, err
}

// claimableTx reports whether the store holds only restored accounts that
// nobody can use yet (no password, no role): the first admin may then be
// set up (Bootstrap) as on an empty store.
func claimableTx(tx *bolt.Tx) (bool, error) {
	c := tx.Bucket(bucketUsers).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		u, err := getUser(tx, string(k))
		if err != nil {
			return false, err
		}
		if u.Hash != "" || u.Role != "" || u.RoleGrant != "" {
			return false, nil
		}
	}
	return true, nil
}
