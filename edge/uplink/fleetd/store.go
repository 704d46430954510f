package fleetd

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/edge/uplink/wire"
)

var (
	bucketGateways = []byte("gateways") // device → Gateway (JSON)
	bucketAudit    = []byte("audit")    // device 0x00 seq(8, BE) → StoredAudit (JSON)
)

// StoredAudit is one received audit record as the service keeps it for
// `edgerec fleet audit` (ids only, as on the wire).
type StoredAudit struct {
	Seq    uint64   `json:"seq"`
	Time   int64    `json:"t"`
	Actor  string   `json:"actor,omitempty"`
	Action string   `json:"act"`
	Tgt    []string `json:"tgt,omitempty"`
	Cams   []string `json:"cams,omitempty"`
	Grant  string   `json:"grant,omitempty"`
	OK     bool     `json:"ok"`
	Hash   string   `json:"h"`
	Prev   string   `json:"prev"`
	At     int64    `json:"at"` // received, ms (service clock)
}

func storedAudit(r *wire.Audit, at int64) StoredAudit {
	return StoredAudit{Seq: r.Seq, Time: r.Time, Actor: r.Actor, Action: r.Action, Tgt: r.Targets, Cams: r.Cameras,
		Grant: r.Grant, OK: r.OK, Hash: r.Hash, Prev: r.Prev, At: at}
}

// Store is the service's bbolt file.
type Store struct {
	db   *bolt.DB
	keep int
}

// OpenStore opens (creates) the state file. readOnly opens it shared, for
// `edgerec fleet audit --state` while no service holds it.
func OpenStore(path string, keep int, readOnly bool) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: readOnly,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("fleetd: open %s: %w", path, err)
	}
	if !readOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketGateways, bucketAudit} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("fleetd: init %s: %w", path, err)
		}
	}
	if keep <= 0 {
		keep = defaultKeepLog
	}
	return &Store{db: db, keep: keep}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Load returns every gateway kept.
func (s *Store) Load() (map[string]*Gateway, error) {
	out := map[string]*Gateway{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGateways)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var g Gateway
			if err := json.Unmarshal(v, &g); err != nil {
				return fmt.Errorf("gateway %q: %w", k, err)
			}
			out[string(k)] = &g
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("fleetd: load: %w", err)
	}
	return out, nil
}

type pendingAudit struct {
	dev string
	rec StoredAudit
}

func auditKey(dev string, seq uint64) []byte {
	k := make([]byte, len(dev)+9)
	copy(k, dev)
	binary.BigEndian.PutUint64(k[len(dev)+1:], seq)
	return k
}

// Save writes gateways and appends audit records in one transaction; for
// each record it drops the device's record keep positions before it.
func (s *Store) Save(gws []*Gateway, recs []pendingAudit) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGateways)
		for _, g := range gws {
			raw, err := json.Marshal(g)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(g.Device), raw); err != nil {
				return err
			}
		}
		ab := tx.Bucket(bucketAudit)
		for _, r := range recs {
			raw, err := json.Marshal(r.rec)
			if err != nil {
				return err
			}
			if err := ab.Put(auditKey(r.dev, r.rec.Seq), raw); err != nil {
				return err
			}
			if r.rec.Seq > uint64(s.keep) {
				// Prune what fell out of the window (at most a few keys).
				c := ab.Cursor()
				lo, hi := auditKey(r.dev, 0), auditKey(r.dev, r.rec.Seq-uint64(s.keep))
				for k, _ := c.Seek(lo); k != nil && string(k) <= string(hi); k, _ = c.Seek(lo) {
					if err := c.Delete(); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fleetd: save: %w", err)
	}
	return nil
}

// ErrUnknownDevice is returned for a device the service has not seen.
var ErrUnknownDevice = errors.New("fleetd: unknown device")

// AuditLog returns the records kept for dev, in seq order.
func (s *Store) AuditLog(dev string) ([]StoredAudit, error) {
	var out []StoredAudit
	err := s.db.View(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketAudit)
		if ab == nil {
			return nil
		}
		c := ab.Cursor()
		lo := auditKey(dev, 0)
		prefix := lo[:len(dev)+1]
		for k, v := c.Seek(lo); k != nil && len(k) == len(lo) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			var r StoredAudit
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fleetd: audit log of %s: %w", dev, err)
	}
	return out, nil
}

// Gateway returns one gateway's stored state.
func (s *Store) Gateway(dev string) (*Gateway, error) {
	var g *Gateway
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGateways)
		if b == nil {
			return nil
		}
		raw := b.Get([]byte(dev))
		if raw == nil {
			return nil
		}
		g = new(Gateway)
		return json.Unmarshal(raw, g)
	})
	if err != nil {
		return nil, fmt.Errorf("fleetd: gateway %s: %w", dev, err)
	}
	if g == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownDevice, dev)
	}
	return g, nil
}
