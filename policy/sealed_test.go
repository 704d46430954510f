package policy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/edgerec/edgerec/policy/devkey"
	"github.com/edgerec/edgerec/policy/password"
	"github.com/edgerec/edgerec/policy/perm"
	"github.com/edgerec/edgerec/policy/sealtest"
	"github.com/edgerec/edgerec/policy/users"
)

// rawDB reads every byte of the closed policy.db, free pages included.
func rawDB(t *testing.T, dir string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (e *env) reopen(t *testing.T, s Sealer) (*Store, error) {
	t.Helper()
	st, err := Open(ctx, Config{DataDir: e.dir, Password: fastParams()}, Deps{Now: e.clk.Now, Sealer: s})
	if err == nil {
		t.Cleanup(func() { st.Close() })
	}
	return st, err
}

// TestR32NoArgonHashInPolicyDB: issue 13, R32, R20 — a stolen card's
// policy.db holds no argon2id hash: not in live rows and not in bbolt's
// free pages, after accounts were created, passwords changed by their
// owners and reset by the admin several times. Logins keep working.
func TestR32NoArgonHashInPolicyDB(t *testing.T) {
	e := newEnv(t, fastParams())
	boss := e.user(t, "boss", perm.Approver)
	op := e.user(t, "op", perm.Operator)
	pw := "op-password"
	for i := range 5 {
		next := "op-password-" + string(rune('a'+i))
		if err := e.s.SetPassword(ctx, op, op, []byte(pw), []byte(next)); err != nil {
			t.Fatal(err)
		}
		pw = next
		if _, err := e.s.Authenticate(ctx, "op", []byte(pw)); err != nil {
			t.Fatalf("login after change %d: %v", i, err)
		}
		e.s.Authenticate(ctx, "op", []byte("a wrong password")) // a failure rewrites the row too
	}
	for i := range 3 { // admin resets: one-time passwords, then the owner's own
		otp := "boss-one-time-" + string(rune('a'+i))
		if err := e.s.SetPassword(ctx, e.admin.ID, boss, nil, []byte(otp)); err != nil {
			t.Fatal(err)
		}
		if err := e.s.SetPassword(ctx, boss, boss, []byte(otp), []byte("boss-own-"+otp)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.s.Authenticate(ctx, "boss", []byte("boss-own-boss-one-time-c")); err != nil {
		t.Fatal(err)
	}
	e.verify(t)
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	raw := rawDB(t, e.dir)
	if !bytes.Contains(raw, []byte("user.password")) || !bytes.Contains(raw, []byte(`boss`)) {
		t.Fatal("policy.db does not hold what was written: the check below would prove nothing")
	}
	for _, secret := range []string{"$argon2", "argon2id", "op-password", "boss-one-time", "admin-password"} {
		if n := bytes.Count(raw, []byte(secret)); n != 0 {
			t.Errorf("policy.db holds %q %d times", secret, n)
		}
	}
	// The same database opens again under this device's vault.
	s, err := e.reopen(t, e.seal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "op", []byte(pw)); err != nil {
		t.Fatalf("login after reopen: %v", err)
	}
	if _, err := s.Authenticate(ctx, "op", []byte("op-password")); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
}

// TestR32PolicyDBFromAnotherDevice: a policy.db (or the whole data dir)
// copied onto another device — another vault — does not open there: one
// clear error, no panic, no login.
func TestR32PolicyDBFromAnotherDevice(t *testing.T) {
	e := newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver)
	e.s.Close()

	// Only policy.db copied onto a provisioned device B.
	other := sealtest.New()
	b := t.TempDir()
	if _, err := Provision(ctx, b, other); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, DBFile), rawDB(t, e.dir), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, Config{DataDir: b, Password: fastParams()}, Deps{Sealer: other})
	if !errors.Is(err, ErrWrongVault) || !strings.Contains(err.Error(), "another device") {
		t.Fatalf("foreign policy.db: %v", err)
	}
	// The whole data dir, with another device's vault: the signing key
	// is refused first.
	_, err = e.reopen(t, other)
	if !errors.Is(err, devkey.ErrWrongVault) {
		t.Fatalf("foreign data dir: %v", err)
	}
	// Nothing was changed: the device's own vault still opens it.
	s, err := e.reopen(t, e.seal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "boss", []byte("boss-password")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Config{DataDir: e.dir}, Deps{}); !errors.Is(err, ErrNoSealer) {
		t.Fatalf("no sealer: %v", err)
	}
	if _, err := Provision(ctx, t.TempDir(), nil); !errors.Is(err, ErrNoSealer) {
		t.Fatalf("provision without sealer: %v", err)
	}
}

// TestR32HashMovedToAnotherUser: a sealed hash is bound to its account: an
// attacker who writes a known account's sealed hash into another account's
// row cannot log in as that account with the known password; the refusal
// is the usual ErrBadCredentials, audited with the reason.
func TestR32HashMovedToAnotherUser(t *testing.T) {
	e := newEnv(t, fastParams())
	boss := e.user(t, "boss", perm.Approver)
	aud := e.user(t, "aud", perm.Auditor)
	err := e.s.db.Update(func(tx *bolt.Tx) error {
		b, _ := getUser(tx, boss)
		a, _ := getUser(tx, aud)
		a.Hash = b.Hash
		return putUser(tx, &a)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"boss-password", "aud-password"} {
		if _, err := e.s.Authenticate(ctx, "aud", []byte(pw)); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("aud with %s: %v", pw, err)
		}
	}
	if err := e.s.SetPassword(ctx, aud, aud, []byte("boss-password"), []byte("aud-new-password")); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("change with the moved hash: %v", err)
	}
	if _, err := e.s.Authenticate(ctx, "boss", []byte("boss-password")); err != nil {
		t.Fatal(err)
	}
	recs, _ := e.s.AuditAfter(ctx, 0, 1000)
	var seen bool
	for _, r := range recs {
		seen = seen || (r.Action == "login" && r.Target == aud && strings.Contains(r.Detail, "does not open"))
	}
	if !seen {
		t.Fatal("refused login not audited with its reason")
	}
	if !strings.Contains(e.logs.String(), "stored password hash unusable") {
		t.Fatal("not logged")
	}
	e.verify(t)
}

// TestR32LegacyPolicyDBSealedOnOpen: a device provisioned before sealing
// (plain argon2id hashes, no vault check, also in free pages) is sealed on
// its first writable open: the step is audited, the file compacted, no
// "$argon2" remains, and the same passwords log in.
func TestR32LegacyPolicyDBSealedOnOpen(t *testing.T) {
	e := newEnv(t, fastParams())
	e.user(t, "boss", perm.Approver)
	e.s.Close()
	// Rewrite the database as the old code left it.
	db, err := bolt.Open(filepath.Join(e.dir, DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	pws := map[string]string{"admin": "admin-password-1", "boss": "boss-password"}
	for range 3 { // several rewrites: old plain rows end up in free pages
		err = db.Update(func(tx *bolt.Tx) error {
			var us []users.User
			tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
				u, err := users.Decode(v)
				us = append(us, u)
				return err
			})
			for i := range us {
				h, err := password.New([]byte(pws[us[i].Name]), fastParams())
				if err != nil {
					return err
				}
				us[i].Hash = h.PHC()
				if err := putUser(tx, &us[i]); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketMeta).Delete(metaVaultCheck)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if !bytes.Contains(rawDB(t, e.dir), []byte("$argon2id")) {
		t.Fatal("legacy database has no plain hash: the test proves nothing")
	}
	s, err := e.reopen(t, e.seal)
	if err != nil {
		t.Fatal(err)
	}
	for name, pw := range pws {
		if _, err := s.Authenticate(ctx, name, []byte(pw)); err != nil {
			t.Fatalf("%s after sealing: %v", name, err)
		}
	}
	recs, _ := s.AuditAfter(ctx, 0, 1000)
	var sealed bool
	for _, r := range recs {
		sealed = sealed || (r.Action == "policy.seal" && strings.Contains(r.Detail, "2 password hashes"))
	}
	if !sealed {
		t.Fatal("sealing not audited")
	}
	if r, err := s.VerifyAudit(ctx); err != nil || !r.OK() {
		t.Fatalf("audit after sealing: %v %s", err, r)
	}
	s.Close()
	if n := bytes.Count(rawDB(t, e.dir), []byte("$argon2")); n != 0 {
		t.Fatalf("policy.db still holds %d plain hashes", n)
	}
	if ents, _ := filepath.Glob(filepath.Join(e.dir, DBFile+".*")); len(ents) != 0 {
		t.Fatalf("leftover files %v", ents)
	}
	// Once sealed, another device's vault is refused.
	if _, err := e.reopen(t, sealtest.New()); err == nil {
		t.Fatal("sealed legacy database opened under another vault")
	}
}
