package export

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/users"
)

// BackupKind is the signed document kind of a device state backup (R26).
const BackupKind = "edgerec.backup.v1"

// BackupUser is a user as backed up: everything but the password hash
// (decision: a backup must carry no secret; after a restore every user
// sets a new password, which is what a compromised backup needs anyway).
type BackupUser struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Role        string    `json:"role,omitempty"`
	RoleGrant   string    `json:"role_grant,omitempty"`
	RoleExpires time.Time `json:"role_expires,omitzero"`
	Cameras     []string  `json:"cameras,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`
	Trained     time.Time `json:"trained,omitzero"`
	LastLogin   time.Time `json:"last_login,omitzero"`
	Created     time.Time `json:"created"`
}

// BackupDoc is the payload of a backup.
type BackupDoc struct {
	Device  string         `json:"device"`
	Created time.Time      `json:"created"`
	By      string         `json:"by"`
	Config  string         `json:"config"` // edgerec.yaml with secrets redacted
	Users   []BackupUser   `json:"users"`
	Audit   []audit.Record `json:"audit"`
	Head    uint64         `json:"audit_head_seq"`
}

// BackupSource is what a backup reads from the policy store
// (*policy.Store has it).
type BackupSource interface {
	Users(ctx context.Context) ([]users.User, error)
	AuditAfter(ctx context.Context, seq uint64, limit int) ([]audit.Record, error)
	Head() (uint64, [32]byte)
}

// Backup makes the signed backup document (R26) of a device: its config
// (redactedConfig: secrets already redacted), users without password
// hashes and the whole audit log, signed with key. It never contains video
// or keys. The CLI (`edgerec backup`) and the LAN page (GET
// /api/v1/backup) share it; both authorize and audit before.
func Backup(ctx context.Context, src BackupSource, device, redactedConfig, by string, key ed25519.PrivateKey) ([]byte, BackupDoc, error) {
	doc := BackupDoc{Device: device, Created: time.Now().UTC(), By: by, Config: redactedConfig}
	us, err := src.Users(ctx)
	if err != nil {
		return nil, doc, err
	}
	for _, u := range us {
		doc.Users = append(doc.Users, BackupUser{
			ID: u.ID, Name: u.Name, Role: u.Role, RoleGrant: u.RoleGrant, RoleExpires: unixTime(u.RoleExpires),
			Cameras: u.Cameras, Disabled: u.Disabled, Trained: unixTime(u.Trained), LastLogin: unixTime(u.LastLogin), Created: unixTime(u.Created),
		})
	}
	for seq := uint64(0); ; {
		recs, err := src.AuditAfter(ctx, seq, 1000)
		if err != nil {
			return nil, doc, err
		}
		if len(recs) == 0 {
			break
		}
		doc.Audit = append(doc.Audit, recs...)
		seq = recs[len(recs)-1].Seq
	}
	doc.Head, _ = src.Head()
	signed, err := SignDoc(BackupKind, doc, key)
	return signed, doc, err
}

// unixTime is a stored Unix-nanosecond time (0 = none).
func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// OpenBackup verifies a signed backup (R26) and decodes it strictly. With
// WithDeviceKey the backup must be signed by that key (the replaced
// device's, as the fleet service or its label recorded it): a backup from
// another device, or changed by one byte, is refused before anything is
// applied (issue 18, replacing a gateway).
func OpenBackup(b []byte, opts ...VerifyOption) (BackupDoc, Doc, error) {
	d, err := OpenDoc(b, opts...)
	if err != nil {
		return BackupDoc{}, d, err
	}
	if d.Kind != BackupKind {
		return BackupDoc{}, d, fmt.Errorf("%w: a %s, not a backup (%s)", ErrBadDocument, d.Kind, BackupKind)
	}
	var doc BackupDoc
	dec := json.NewDecoder(bytes.NewReader(d.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return BackupDoc{}, d, fmt.Errorf("%w: backup payload: %v", ErrBadDocument, err)
	}
	if doc.Device == "" || doc.Config == "" {
		return BackupDoc{}, d, fmt.Errorf("%w: backup names no device or has no config", ErrBadDocument)
	}
	return doc, d, nil
}

// LastRecord checks that the backup's audit records form one hash chain
// from seq 1 and returns the seq and hex hash of the last one: the head
// the replacement device's chain links to. (Head may be later: records
// appended while the backup was read.)
func (b BackupDoc) LastRecord() (uint64, string, error) {
	if len(b.Audit) == 0 || b.Audit[0].Seq != 1 {
		return 0, "", fmt.Errorf("%w: the backup's audit log does not start at seq 1", ErrBadDocument)
	}
	var prev [32]byte
	for i := range b.Audit {
		r := &b.Audit[i]
		if i > 0 && (r.Seq != b.Audit[i-1].Seq+1 || r.Prev != prev) {
			return 0, "", fmt.Errorf("%w: the backup's audit records break the chain at seq %d", ErrBadDocument, r.Seq)
		}
		h, err := audit.HashRecord(r)
		if err != nil {
			return 0, "", err
		}
		prev = h
	}
	last := b.Audit[len(b.Audit)-1].Seq
	if last > b.Head {
		return 0, "", fmt.Errorf("%w: the backup's head is seq %d but it holds record %d", ErrBadDocument, b.Head, last)
	}
	return last, hex.EncodeToString(prev[:]), nil
}
