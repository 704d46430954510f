package policy

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/kind"
	"github.com/edgerec/edgerec/policy/password"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/users"
)

// DBFile is the policy database in the data directory (storage owns
// index.db, ring, root.key and keys/).
const DBFile = "policy.db"

// Buckets owned by this package (audit owns its own).
var (
	bucketUsers  = []byte("users")     // user id → users.User
	bucketNames  = []byte("usernames") // login name → user id
	bucketGrants = []byte("grants")    // grant id → grants.Grant
	bucketMeta   = []byte("meta")      // "schema" → version
	keySchema    = []byte("schema")
)

const schemaVersion = "1"

// Errors.
var (
	ErrBadCredentials = kind.New(kind.Forbidden, "policy: bad credentials")
	ErrForbidden      = kind.New(kind.Forbidden, "policy: forbidden")
	ErrNotFound       = kind.New(kind.NotFound, "policy: not found")
	ErrExists         = kind.New(kind.Conflict, "policy: exists")
	ErrCorrupt        = errors.New("policy: corrupt database")
	ErrLocked         = errors.New("policy: database in use")
)

// Config configures the store.
type Config struct {
	DataDir string
	// Limits bound grants (Limits.MaxValidity = config
	// policy.grant_max_validity).
	Limits grants.Limits
	// StaleAfter: accounts idle this long are disabled by DisableStale
	// (config policy.stale_account_days; default 90 days). Flagged at 2/3.
	StaleAfter time.Duration
	// Password: argon2id parameters for new hashes (zero = password.Default).
	Password password.Params
	// MaxFailures consecutive failed logins lock an account for LockFor
	// everywhere (0, the default: never). The LAN page throttles per
	// address × account instead (R22, issue 12): an account-wide lock lets
	// anyone on the LAN keep the only admin out. Failures are still
	// counted and audited.
	MaxFailures uint32
	LockFor     time.Duration
	Audit       audit.Config
}

// Deps are the injected clock and logger.
type Deps struct {
	Now func() time.Time
	Log *slog.Logger
	// Security, if set, is told of security-relevant account and approval
	// actions after they committed (or were refused): the daemon sends them
	// upstream as events. It must not block.
	Security func(SecurityEvent)
	// Sealer is the device vault (required): the device signing key and
	// every password hash are sealed under it (sealed.go, issue 13, R32).
	Sealer Sealer
}

// Store is the policy store: users, role assignments, requests and grants,
// and the audit log, in one bbolt file. Every state change and its audit
// record commit in one transaction.
type Store struct {
	cfg    Config
	db     *bolt.DB
	audit  *audit.Log
	pub    ed25519.PublicKey
	m      *perm.Matrix
	now    func() time.Time
	log    *slog.Logger
	dummy  password.Hash // for unknown users: same work as a real check
	notify func(SecurityEvent)
	sealer Sealer
}

// Provision creates the device signing key (devkey, sealed under s) and an
// empty policy database in dataDir, refusing if either exists. It returns
// the public key, which provisioning should record off the device.
func Provision(ctx context.Context, dataDir string, s Sealer) (ed25519.PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, ErrNoSealer
	}
	path := filepath.Join(dataDir, DBFile)
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("policy: provision: %w", err)
	}
	pub, err := devkey.Create(dataDir, s)
	if err != nil {
		return nil, fmt.Errorf("policy: provision: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("policy: provision: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := initBuckets(tx); err != nil {
			return err
		}
		return putVaultCheck(tx, s)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("policy: provision: %w", err)
	}
	return pub, nil
}

func initBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketUsers, bucketNames, bucketGrants, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketMeta).Put(keySchema, []byte(schemaVersion)); err != nil {
		return err
	}
	return audit.Init(tx)
}

// Open opens the provisioned store for reading and writing (an exclusive
// lock: one daemon). It loads the device key.
func Open(ctx context.Context, cfg Config, deps Deps) (s *Store, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 90 * 24 * time.Hour
	}
	if cfg.Password == (password.Params{}) {
		cfg.Password = password.Default()
	}
	if err := cfg.Password.Validate(); err != nil {
		return nil, fmt.Errorf("policy: password parameters: %w", err)
	}
	if cfg.LockFor <= 0 {
		cfg.LockFor = 15 * time.Minute
	}
	if deps.Sealer == nil {
		return nil, ErrNoSealer
	}
	key, err := devkey.Load(cfg.DataDir, deps.Sealer)
	if err != nil {
		return nil, fmt.Errorf("policy: open: %w", err)
	}
	db, err := openSealed(filepath.Join(cfg.DataDir, DBFile), key, deps.Sealer, cfg.Audit, deps.Now, deps.Log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	db.MaxBatchDelay = 2 * time.Millisecond
	dummy, err := password.New([]byte("dummy password for unknown users"), cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	s = &Store{cfg: cfg, db: db, pub: key.Public().(ed25519.PublicKey), m: perm.NewMatrix(), now: deps.Now, log: deps.Log, dummy: dummy, notify: deps.Security, sealer: deps.Sealer}
	s.audit = audit.New(db, key, cfg.Audit, deps.Now, deps.Log)
	return s, nil
}

func openDB(path string, readOnly bool) (db *bolt.DB, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly})
	if err != nil {
		if errors.Is(err, bolterr.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketUsers, bucketNames, bucketGrants, bucketMeta} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, b)
			}
		}
		if v := tx.Bucket(bucketMeta).Get(keySchema); string(v) != schemaVersion {
			return fmt.Errorf("%w: schema %q, want %q", ErrCorrupt, v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// PublicKey is the device's audit signing public key.
func (s *Store) PublicKey() ed25519.PublicKey { return s.pub }

// update runs fn in a write transaction, turning a bbolt panic into an
// error. Nothing is written unless fn returns nil.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return s.db.Update(fn)
}

func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return s.db.View(fn)
}

func getUser(tx *bolt.Tx, id string) (users.User, error) {
	v := tx.Bucket(bucketUsers).Get([]byte(id))
	if v == nil {
		return users.User{}, fmt.Errorf("%w: user %s", ErrNotFound, id)
	}
	u, err := users.Decode(v)
	if err != nil {
		return users.User{}, fmt.Errorf("%w: user %s: %w", ErrCorrupt, id, err)
	}
	return u, nil
}

func putUser(tx *bolt.Tx, u *users.User) error {
	v, err := u.MarshalMsg(nil)
	if err != nil {
		return fmt.Errorf("policy: encode user: %w", err)
	}
	return tx.Bucket(bucketUsers).Put([]byte(u.ID), v)
}

func getGrant(tx *bolt.Tx, id string) (grants.Grant, error) {
	v := tx.Bucket(bucketGrants).Get([]byte(id))
	if v == nil {
		return grants.Grant{}, fmt.Errorf("%w: grant %q", ErrNotFound, id)
	}
	g, err := grants.Decode(v)
	if err != nil {
		return grants.Grant{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return g, nil
}

func putGrant(tx *bolt.Tx, g *grants.Grant) error {
	v, err := g.MarshalMsg(nil)
	if err != nil {
		return fmt.Errorf("policy: encode grant: %w", err)
	}
	return tx.Bucket(bucketGrants).Put([]byte(g.ID), v)
}

// ErrMustChange: the account's password was set by someone else and must
// be changed by its owner before the account may do anything else.
var ErrMustChange = fmt.Errorf("%w: password change required: set your own password first", ErrForbidden)

// actor loads an enabled user with a current role whose password is their
// own (ErrMustChange otherwise).
func (s *Store) actor(tx *bolt.Tx, id string, now time.Time) (users.User, grants.Actor, error) {
	u, a, err := s.actorAny(tx, id, now)
	if err == nil && u.MustChange {
		return u, grants.Actor{}, ErrMustChange
	}
	return u, a, err
}

// actorAny is actor without the must-change rule (changing one's own
// password, reading one's own principal).
func (s *Store) actorAny(tx *bolt.Tx, id string, now time.Time) (users.User, grants.Actor, error) {
	u, err := getUser(tx, id)
	if err != nil {
		return u, grants.Actor{}, err
	}
	if u.Disabled {
		return u, grants.Actor{}, fmt.Errorf("%w: account %s is disabled", ErrForbidden, id)
	}
	return u, grants.Actor{ID: u.ID, Role: perm.Role(u.CurrentRole(now))}, nil
}

// Audit appends a record for an operation outside this store (view, config
// or mask change, wipe, export…). Appends from concurrent callers share
// fsyncs. Details must carry ids, never camera names or secrets.
func (s *Store) Audit(ctx context.Context, e audit.Event) (audit.Record, error) {
	return s.audit.Append(ctx, e)
}

// Head is the audit head (seq, hash) for beacons (R16).
func (s *Store) Head() (uint64, [32]byte) { return s.audit.Head() }

// AuditAfter returns up to max audit records after seq, in order, for the
// uplink outbox. Records carry ids only (camera ids are local ids: the
// uplink hashes them, R19).
func (s *Store) AuditAfter(ctx context.Context, seq uint64, max int) ([]audit.Record, error) {
	return s.audit.After(ctx, seq, max)
}

// VerifyAudit verifies the open store's audit chain from genesis.
func (s *Store) VerifyAudit(ctx context.Context) (audit.Report, error) {
	return audit.Verify(ctx, s.db, s.pub, audit.VerifyOptions{})
}

// VerifyDir opens <dataDir>/policy.db read-only and verifies the audit
// chain from genesis (`edgerec check`). pub pins the device public key; nil
// reads <dataDir>/device.ed25519.pub (weaker: see policy/audit's doc). The
// error is for failures to open or read; a tampered log gives a Report with
// OK() false naming the first bad sequence number. It fails with ErrLocked
// while the daemon holds the database.
func VerifyDir(ctx context.Context, dataDir string, pub ed25519.PublicKey) (rep audit.Report, err error) {
	if pub == nil {
		if pub, err = devkey.LoadPublic(dataDir); err != nil {
			return rep, fmt.Errorf("policy: verify: %w", err)
		}
	}
	db, err := openDB(filepath.Join(dataDir, DBFile), true)
	if err != nil {
		return rep, err
	}
	defer db.Close()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return audit.Verify(ctx, db, pub, audit.VerifyOptions{})
}
