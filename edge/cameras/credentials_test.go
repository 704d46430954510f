package cameras

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/web"
)

// TestManagerPasswords: the camera manager behind the LAN page's
// add/edit form (issue 13, R32). A password typed with the source is sealed
// into the vault and the config keeps the reference; a new password for the
// same source applies at once (no coverage change); an unchanged source
// keeps the credential; a new source typed without a password waits for
// approval (R27) and would drop it. Without a vault a password is refused
// and nothing changes. A damaged vault item refuses that camera with one
// clear reason.
func TestManagerPasswords(t *testing.T) {
	r := newRig(t)
	ctx, cfg, dir, path, data, tr := r.ctx, r.cfg, r.dir, r.path, r.data, r.tracker
	al := &auditLog{}
	m := r.manager(Deps{Audit: al})

	// Without a vault: refused, nothing written.
	cam := cfg.Cameras[0]
	cam.ID, cam.Masks, cam.Source = "cam2", nil, "rtsp://admin:pw-one@127.0.0.1:9/x"
	if err := m.Add(ctx, cam); err == nil || !strings.Contains(err.Error(), "no vault") || strings.Contains(err.Error(), "pw-one") {
		t.Fatalf("add without a vault: %v", err)
	}
	if !bytes.Equal(mustRead(t, path), data) {
		t.Fatal("a refused add rewrote the config")
	}

	m.creds = newCredStore(dir, r.st.Vault())
	run(t, ctx, m)
	if err := m.Add(ctx, cam); err != nil {
		t.Fatal(err)
	}
	url := func() string {
		c, err := m.Camera("cam2")
		if err != nil {
			t.Fatal(err)
		}
		u, err := m.creds.sourceURL(&c)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if got, _ := m.Camera("cam2"); got.Source != "rtsp://admin@127.0.0.1:9/x" || got.Credential != "vault:camera/cam2/password" {
		t.Fatalf("stored camera %+v", got)
	}
	if u := url(); u != "rtsp://admin:pw-one@127.0.0.1:9/x" {
		t.Fatalf("resolved %q", u)
	}
	cam.Source = "rtsp://admin:pw-two@127.0.0.1:9/x"
	if err := m.Update(ctx, cam); err != nil {
		t.Fatalf("password change: %v", err)
	}
	if u := url(); u != "rtsp://admin:pw-two@127.0.0.1:9/x" {
		t.Fatalf("after the password change: %q", u)
	}
	cur, _ := m.Camera("cam2")
	cur.Name = "Renamed"
	if err := m.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if u := url(); u != "rtsp://admin:pw-two@127.0.0.1:9/x" {
		t.Fatalf("credential lost by a rename: %q", u)
	}
	cur.Source = "rtsp://admin@127.0.0.1:9/y"
	var na *web.NeedsApproval
	if err := m.Update(ctx, cur); !errors.As(err, &na) || na.Change.Kind != "source_change" {
		t.Fatalf("new source: %v", err)
	}
	p, err := m.loadProposal(na.Change.Digest)
	if err != nil || p.After.Credential != "" || p.SealedPassword != nil {
		t.Fatalf("proposal %+v %v", p, err)
	}
	cur.Source = "rtsp://admin:pw-three@127.0.0.1:9/z"
	if err := m.Update(ctx, cur); !errors.As(err, &na) {
		t.Fatalf("new source with a password: %v", err)
	}
	if p, err = m.loadProposal(na.Change.Digest); err != nil || p.After.Credential != "vault:camera/cam2/password" || p.SealedPassword == nil {
		t.Fatalf("proposal %+v %v", p, err)
	}
	if u := url(); u != "rtsp://admin:pw-two@127.0.0.1:9/x" {
		t.Fatalf("a proposal changed the password in use: %q", u)
	}
	grepDir(t, dir, "pw-")

	// A damaged item: that camera is refused with the reason, no panic.
	if err := os.WriteFile(filepath.Join(dir, "vault", "camera", "cam2", "password"), []byte("EDGEREC-SEALED1\x00garbage-garbage-garbage-garbage-garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	cur, _ = m.Camera("cam2")
	cur.Name = "Again"
	if err := m.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	refused := false
	for _, h := range tr.Snapshot().Cameras {
		if h.ID == "cam2" {
			refused = h.State == health.StateRefused && strings.HasPrefix(h.Reason, "camera cam2: credential vault:camera/cam2/password: ")
			t.Logf("cam2: %s: %s", h.State, h.Reason)
		}
	}
	if !refused {
		t.Fatal("cam2 with a damaged vault item was not refused with its reason")
	}
	if n := len(al.events); n != 1 || al.events[0].Action != "camera.refuse" || al.events[0].Target != "cam2" {
		t.Fatalf("audit %+v", al.events)
	}
}

// TestSealInlineCredentials: a password written inline in the config file
// by hand is reported as an outside edit (R16), then moved into the vault
// at start: the file keeps the reference and is the device's own write,
// each move is audited "camera.credential_sealed" without the password,
// and the camera opens its source with it (issue 13, R32).
func TestSealInlineCredentials(t *testing.T) {
	r := newRig(t)
	r.cfg.Cameras[0].Source = "rtsp://admin:pw-inline@127.0.0.1:9/x"
	data, err := r.cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path, data, 0o600); err != nil { // by hand: no record
		t.Fatal(err)
	}
	al := &auditLog{}
	m := r.manager(Deps{Audit: al, Vault: r.st.Vault()})
	if err := m.CheckExternalEdit(r.ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.SealInlineCredentials(); err != nil {
		t.Fatal(err)
	}
	if len(al.events) != 2 || al.events[0].Action != "config.external_change" || al.events[1].Action != "camera.credential_sealed" ||
		al.events[1].Target != "demo1" || strings.Contains(al.events[1].Detail, "pw-inline") {
		t.Fatalf("audit %+v", al.events)
	}
	c, _ := m.Camera("demo1")
	if c.Source != "rtsp://admin@127.0.0.1:9/x" || c.Credential != "vault:camera/demo1/password" {
		t.Fatalf("camera %+v", c)
	}
	if u, err := m.creds.sourceURL(&c); err != nil || u != "rtsp://admin:pw-inline@127.0.0.1:9/x" {
		t.Fatalf("source %q %v", u, err)
	}
	grepDir(t, r.dir, "pw-inline")
	if err := m.CheckExternalEdit(r.ctx); err != nil || len(al.events) != 2 {
		t.Fatalf("the rewrite is not the device's own: %v %+v", err, al.events)
	}
	if err := m.SealInlineCredentials(); err != nil || len(al.events) != 2 {
		t.Fatalf("nothing left to move: %v %+v", err, al.events)
	}
}
