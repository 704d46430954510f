package decommission

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/policy/audit"
	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/users"
	"github.com/edgerec/edgerec/storage"
)

// fakePolicy: grant "g-dec" requested by the admin, approved by bob and
// carol; an audit log whose records are chained like the real one.
type fakePolicy struct {
	mu  sync.Mutex
	log []audit.Record
}

func (p *fakePolicy) Grant(ctx context.Context, id string) (grants.Grant, error) {
	if id != "g-dec" {
		return grants.Grant{}, errors.New("not found")
	}
	return grants.Grant{ID: id, Requester: "u-ada", Approvals: []grants.Approval{{By: "u-bob"}, {By: "u-carol"}}}, nil
}

func (p *fakePolicy) Users(ctx context.Context) ([]users.User, error) {
	return []users.User{{ID: "u-ada", Name: "ada"}, {ID: "u-bob", Name: "bob"}, {ID: "u-carol", Name: "carol"}}, nil
}

func (p *fakePolicy) Audit(ctx context.Context, e audit.Event) (audit.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < 3; i++ { // records before this one
		p.log = append(p.log, audit.Record{Seq: uint64(len(p.log) + 1), Action: "login"})
	}
	r := audit.Record{Seq: uint64(len(p.log) + 1), Actor: e.Actor, Action: e.Action, TargetKind: e.TargetKind, Grant: e.Grant, Result: e.Result, Detail: e.Detail}
	p.log = append(p.log, r)
	return r, nil
}

type rig struct {
	dir   string
	pol   *fakePolicy
	key   ed25519.PrivateKey
	calls []string
	sent  []byte
	d     *Decommissioner
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	g := &rig{dir: filepath.Join(t.TempDir(), "data"), pol: &fakePolicy{}}
	if err := storage.Provision(ctx, g.dir, storage.ProvisionOptions{RingSize: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	_, g.key, _ = ed25519.GenerateKey(nil)
	for _, f := range []string{"users.db", devkey.PrivateFile, filepath.Join("tls", "key.pem")} {
		p := filepath.Join(g.dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g.d = New(Config{DataDir: g.dir, DeviceID: "gw-7", Secrets: []string{"users.db", "tls", "absent"}}, Deps{
		Policy: g.pol,
		SigningKey: func() (ed25519.PrivateKey, error) {
			g.calls = append(g.calls, "key")
			return append(ed25519.PrivateKey(nil), g.key...), nil
		},
		Stop: func(context.Context) {
			g.calls = append(g.calls, fmt.Sprintf("stop after %d audit records", len(g.pol.log)))
		},
		Send: func(ctx context.Context, doc []byte) string {
			g.calls, g.sent = append(g.calls, "send"), doc
			return " (sent upstream)"
		},
		Done: func() { g.calls = append(g.calls, "done") },
	})
	return g
}

// R25, issue 15: the certificate of a grant decommission names the admin
// and every approver, and cites the decommission's own audit record (its
// sequence and chain hash); the steps run in order (key, audit, stop,
// wipe, certificate, send); RemoveSecrets removes the listed secrets and
// the signing key, overwritten first; a second run is refused.
func TestR25DecommissionGrant(t *testing.T) {
	g := newRig(t)
	res, err := g.d.Run(context.Background(), "g-dec", "u-ada")
	if err != nil {
		t.Fatal(err)
	}
	c, err := export.VerifyWipeCertificate(res.Doc, export.WithDeviceKey(g.key.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	var rec audit.Record
	for _, r := range g.pol.log {
		if r.Action == AuditAction {
			rec = r
		}
	}
	h, _ := audit.HashRecord(&rec)
	if c.Trigger != "grant" || c.Grant != "g-dec" || c.Admin != "ada" || c.Approver != "bob, carol" || c.Device != "gw-7" ||
		c.AuditSeq != rec.Seq || c.AuditSeq != 4 || c.AuditHead != fmt.Sprintf("%x", h) || !c.Complete || rec.Grant != "g-dec" || rec.Actor != "u-ada" {
		t.Fatalf("certificate %+v; record %+v", c, rec)
	}
	if want := fmt.Sprint([]string{"key", "stop after 4 audit records", "send", "done"}); fmt.Sprint(g.calls) != want {
		t.Fatalf("steps %v, want %s", g.calls, want)
	}
	if string(g.sent) != string(res.Doc) || res.Sent != " (sent upstream)" {
		t.Fatal("the certificate sent is not the one issued")
	}
	onDisk, err := os.ReadFile(filepath.Join(g.dir, CertificateFile))
	if err != nil || string(onDisk) != string(res.Doc) {
		t.Fatalf("certificate file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(g.dir, storage.WipeMarkerFile)); err != nil {
		t.Fatalf("no wipe marker: %v", err)
	}
	removed := g.d.RemoveSecrets()
	if fmt.Sprint(removed) != fmt.Sprint([]string{"users.db", "tls", devkey.PrivateFile}) {
		t.Fatalf("removed %v", removed)
	}
	for _, f := range []string{"users.db", "tls", devkey.PrivateFile} {
		if _, err := os.Stat(filepath.Join(g.dir, f)); err == nil {
			t.Errorf("%s survived", f)
		}
	}
	if _, err := g.d.Run(context.Background(), "g-dec", "u-ada"); !errors.Is(err, ErrDone) {
		t.Fatalf("second run: %v", err)
	}
}

// R25: the wipe button (no grant) is certified as such, with the
// confirming admin and no approver.
func TestR25DecommissionButton(t *testing.T) {
	g := newRig(t)
	doc, err := g.d.Decommission(context.Background(), "", "u-ada")
	if err != nil {
		t.Fatal(err)
	}
	c, err := export.VerifyWipeCertificate(doc)
	if err != nil {
		t.Fatal(err)
	}
	if c.Trigger != "button" || c.Admin != "ada" || c.Approver != "" || c.Grant != "" || c.AuditSeq == 0 {
		t.Fatalf("button certificate %+v", c)
	}
}

// Nothing changes when the signing key or the grant cannot be read: no
// stop, no wipe, nothing removed.
func TestDecommissionRefusedChangesNothing(t *testing.T) {
	g := newRig(t)
	if _, err := g.d.Run(context.Background(), "g-unknown", "u-ada"); err == nil {
		t.Fatal("unknown grant accepted")
	}
	if len(g.calls) != 1 || g.d.Wiped() || g.d.RemoveSecrets() != nil {
		t.Fatalf("after a refusal: calls %v, wiped %v", g.calls, g.d.Wiped())
	}
	if _, err := os.Stat(filepath.Join(g.dir, storage.WipeMarkerFile)); err == nil {
		t.Fatal("refused decommission wiped")
	}
}

// The operator's note on the certificate's delivery (the CLI and the
// daemon say the same).
func TestSentNote(t *testing.T) {
	late := errors.New("late")
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, " (sent upstream)"},
		{fmt.Errorf("x: %w", late), "deliver the certificate file by hand"},
		{errors.New("broker refused"), " (not sent upstream: broker refused)"},
	} {
		if got := SentNote(c.err, late); !strings.Contains(got, c.want) {
			t.Errorf("%v: %q", c.err, got)
		}
	}
}
