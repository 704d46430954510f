package export

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/users"
)

type backupSource struct {
	users []users.User
	recs  []audit.Record
}

func (b backupSource) Users(context.Context) ([]users.User, error) { return b.users, nil }
func (b backupSource) Head() (uint64, [32]byte)                    { return uint64(len(b.recs)), [32]byte{} }
func (b backupSource) AuditAfter(_ context.Context, seq uint64, limit int) ([]audit.Record, error) {
	var out []audit.Record
	for _, r := range b.recs {
		if r.Seq > seq && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

// R26 (issue 15: the backup moved out of cmd/edgerec): a signed document
// with every user but no password hash, the whole audit log across pages,
// the redacted config, verifiable offline with the device key.
func TestBackupSignedWithoutSecrets(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	src := backupSource{users: []users.User{{ID: "u1", Name: "ana", Role: "admin", Hash: "$argon2id$v=19$SECRET", Created: 1e18}}}
	for i := uint64(1); i <= 2500; i++ {
		src.recs = append(src.recs, audit.Record{Seq: i, Action: "login"})
	}
	signed, doc, err := Backup(context.Background(), src, "gw-1", "device:\n  id: gw-1\n", "ana", key)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Users) != 1 || doc.Users[0].Name != "ana" || len(doc.Audit) != 2500 || doc.Head != 2500 || doc.Device != "gw-1" {
		t.Fatalf("doc: %d users, %d audit records, head %d", len(doc.Users), len(doc.Audit), doc.Head)
	}
	if bytes.Contains(signed, []byte("argon2id")) || bytes.Contains(signed, []byte("SECRET")) {
		t.Fatal("the backup carries a password hash")
	}
	d, err := OpenDoc(signed, WithDeviceKey(pub))
	if err != nil || d.Kind != BackupKind {
		t.Fatalf("open: %v kind %q", err, d.Kind)
	}
	var back BackupDoc
	if err := json.Unmarshal(d.Payload, &back); err != nil || len(back.Audit) != 2500 || back.Users[0].Created.IsZero() {
		t.Fatalf("payload: %v", err)
	}
	signed[len(signed)/2] ^= 1
	if _, err := OpenDoc(signed, WithDeviceKey(pub)); err == nil {
		t.Fatal("a changed backup verified")
	}
}
