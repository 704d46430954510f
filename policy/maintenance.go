package policy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/perm"
)

// Visit is one maintenance visit (the seed rules' 工作记录和档案, issue 18):
// who recorded it, when, on which cameras, and what was done. Visits stay
// on the device (the review report lists them); the audit record and the
// upstream event carry only the number of cameras, never the text.
type Visit struct {
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	ActorName string    `json:"actor_name"`
	Cameras   []string  `json:"cameras"`
	Work      string    `json:"work"`
}

// Limits of a visit record.
const (
	MaxVisitWork    = 2000
	MaxVisitCameras = 64
)

var bucketVisits = []byte("maintenance") // big-endian ns + id → Visit (JSON); made at the first visit

// RecordVisit stores a maintenance visit by actorID (needs
// maintenance.record) and audits it ("maintenance.record", detail the
// camera count). cameras are ids (the caller checks they exist); work is
// the free text, 1..MaxVisitWork characters.
func (s *Store) RecordVisit(ctx context.Context, actorID string, cameras []string, work string) (Visit, error) {
	if err := grants.CheckText("work", work, MaxVisitWork); err != nil {
		return Visit{}, err
	}
	if len(cameras) > MaxVisitCameras {
		return Visit{}, fmt.Errorf("%w: at most %d cameras per visit", ErrInvalid, MaxVisitCameras)
	}
	cams := slices.Clone(cameras)
	slices.Sort(cams)
	cams = slices.Compact(cams)
	for _, c := range cams {
		if !validCameraID(c) {
			return Visit{}, fmt.Errorf("%w: camera %q is not a camera id", ErrInvalid, clip(c, 70))
		}
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Visit{}, fmt.Errorf("policy: visit id: %w", err)
	}
	now := s.now()
	v := Visit{ID: "m-" + hex.EncodeToString(b[:]), At: now.UTC(), Actor: actorID, Cameras: cams, Work: work}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if err := s.requireTx(tx, actorID, perm.Maintenance, now); err != nil {
			return err
		}
		u, err := getUser(tx, actorID)
		if err != nil {
			return err
		}
		v.ActorName = u.Name
		bk, err := tx.CreateBucketIfNotExists(bucketVisits)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
		if err := bk.Put(append(key, v.ID...), raw); err != nil {
			return err
		}
		_, err = s.audit.AppendTx(tx, audit.Event{Actor: actorID, Action: "maintenance.record", TargetKind: audit.KindDevice, Target: v.ID,
			Result: audit.ResultOK, Detail: "cameras=" + strconv.Itoa(len(cams))})
		return err
	})
	if err != nil {
		return Visit{}, err
	}
	return v, nil
}

// Visits lists the visits recorded in [from, to), oldest first; actorID
// needs maintenance.record or reports.read.
func (s *Store) Visits(ctx context.Context, actorID string, from, to time.Time) ([]Visit, error) {
	out := []Visit{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		now := s.now()
		if err := s.requireTx(tx, actorID, perm.Maintenance, now); err != nil {
			if err2 := s.requireTx(tx, actorID, perm.ReportsRead, now); err2 != nil {
				return err
			}
		}
		var err error
		out, err = visitsTx(tx, from, to)
		return err
	})
	return out, err
}

func visitsTx(tx *bolt.Tx, from, to time.Time) ([]Visit, error) {
	out := []Visit{}
	bk := tx.Bucket(bucketVisits)
	if bk == nil {
		return out, nil
	}
	c := bk.Cursor()
	lo := binary.BigEndian.AppendUint64(nil, uint64(max(0, from.UnixNano())))
	for k, raw := c.Seek(lo); k != nil; k, raw = c.Next() {
		if len(k) < 8 || int64(binary.BigEndian.Uint64(k)) >= to.UnixNano() {
			break
		}
		var v Visit
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%w: maintenance visit %x: %w", ErrCorrupt, k, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func validCameraID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
