package policy

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/password"
	"github.com/edgerec/edgerec/policy/users"
)

// Sealer seals and opens small secrets under the device vault
// (storage/keys.Vault, passed in by cmd/edgerec: policy never imports
// storage). A value sealed for one name does not open under another name,
// nor under another device's vault.
type Sealer interface {
	Seal(name string, plain []byte) ([]byte, error)
	Open(name string, sealed []byte) ([]byte, error)
}

// Errors of sealing.
var (
	ErrNoSealer = errors.New("policy: no vault (Deps.Sealer) to seal secrets with")
	// ErrWrongVault: policy.db was sealed under another device's vault
	// (copied from another device): no stored password opens, so the store
	// refuses to open rather than refuse every login silently.
	ErrWrongVault = errors.New("policy: policy.db was sealed under another device's vault (copied from another device?); logins refused")
)

// metaVaultCheck (meta bucket) holds vaultCheckPlain sealed for
// vaultCheckName: Open proves with it that this device's vault opens the
// database's sealed fields before anyone tries to log in.
var metaVaultCheck = []byte("vault.check")

const (
	vaultCheckName  = "user/policy.db"
	vaultCheckPlain = "edgerec policy.db sealed fields v1"
)

// hashName is the vault name of userID's password hash: bound to the user,
// so a sealed hash moved onto another account does not open.
func hashName(userID string) string { return "user/" + userID + "/hash" }

// sealHash returns h sealed for userID, as stored in users.User.Hash.
func sealHash(s Sealer, userID string, phc string) (string, error) {
	b, err := s.Seal(hashName(userID), []byte(phc))
	if err != nil {
		return "", fmt.Errorf("policy: seal password hash: %w", err)
	}
	return string(b), nil
}

// errHashSealed: a stored hash does not open under this vault for this user.
var errHashSealed = errors.New("password hash does not open under this device's vault for this account (moved from another account or device, or damaged)")

// openHash opens u's sealed password hash. A plain PHC string (never
// sealed) is refused too: after Open every stored hash is sealed.
func (s *Store) openHash(u *users.User) (password.Hash, error) {
	plain, err := s.sealer.Open(hashName(u.ID), []byte(u.Hash))
	if err != nil {
		return password.Hash{}, errHashSealed
	}
	h, err := password.Parse(string(plain))
	clear(plain)
	if err != nil {
		return password.Hash{}, fmt.Errorf("password hash unreadable: %w", err)
	}
	return h, nil
}

// putVaultCheck writes the vault check value into the meta bucket.
func putVaultCheck(tx *bolt.Tx, s Sealer) error {
	v, err := s.Seal(vaultCheckName, []byte(vaultCheckPlain))
	if err != nil {
		return fmt.Errorf("policy: seal: %w", err)
	}
	return tx.Bucket(bucketMeta).Put(metaVaultCheck, v)
}

// openSealed opens policy.db for writing and checks that its sealed fields
// are this device's (ErrWrongVault otherwise). A database from before
// fields were sealed (no vault check) is sealed on this first writable
// open: every plain argon2id hash is sealed, the step is audited, and the
// file is compacted so that no free page keeps an old hash.
func openSealed(path string, key ed25519.PrivateKey, s Sealer, acfg audit.Config, now func() time.Time, log *slog.Logger) (*bolt.DB, error) {
	db, err := openDB(path, false)
	if err != nil {
		return nil, err
	}
	n, err := sealLegacy(db, s, audit.New(db, key, acfg, now, log))
	if err != nil {
		db.Close()
		return nil, err
	}
	if n == 0 {
		return db, nil
	}
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if err := compactFile(path); err != nil {
		return nil, fmt.Errorf("policy: compact after sealing: %w", err)
	}
	log.Warn("policy: sealed the password hashes of a database from before sealing", "hashes", n)
	return openDB(path, false)
}

// sealLegacy checks the vault check value, or, when there is none (a
// database from before sealing), seals every plain hash and writes it. It
// returns how many hashes it sealed.
func sealLegacy(db *bolt.DB, s Sealer, alog *audit.Log) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	err = db.Update(func(tx *bolt.Tx) error {
		n = 0
		if v := tx.Bucket(bucketMeta).Get(metaVaultCheck); v != nil {
			p, err := s.Open(vaultCheckName, v)
			if err != nil || string(p) != vaultCheckPlain {
				return ErrWrongVault
			}
			return nil
		}
		var plain []users.User // collected first: no writes while a cursor walks the bucket
		err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			u, err := users.Decode(v)
			if err != nil {
				return fmt.Errorf("%w: user %s: %w", ErrCorrupt, k, err)
			}
			if strings.HasPrefix(u.Hash, "$argon2") {
				plain = append(plain, u)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range plain {
			u := &plain[i]
			if u.Hash, err = sealHash(s, u.ID, u.Hash); err != nil {
				return err
			}
			if err := putUser(tx, u); err != nil {
				return err
			}
		}
		if n = len(plain); n > 0 {
			if _, err := alog.AppendTx(tx, audit.Event{Actor: ActorSystem, Action: "policy.seal", TargetKind: audit.KindDevice, Result: audit.ResultOK,
				Detail: fmt.Sprintf("%d password hashes sealed under the device vault (issue 13)", n)}); err != nil {
				return err
			}
		}
		return putVaultCheck(tx, s)
	})
	return n, err
}

// compactFile rewrites the bbolt file at path with only its live data
// (free pages may hold old plain values), replaces it atomically and
// overwrites the old file's bytes (best effort: flash may keep copies).
func compactFile(path string) error {
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := bolt.Compact(dst, src, 1<<20); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	old, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer old.Close()
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if st, err := old.Stat(); err == nil { // the old inode lives while open
		zero := make([]byte, 1<<16)
		for off := int64(0); off < st.Size(); off += int64(len(zero)) {
			if _, err := old.WriteAt(zero[:min(int64(len(zero)), st.Size()-off)], off); err != nil {
				break
			}
		}
		_ = old.Sync()
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
