package update

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerec/edgerec/policy/kind"
)

type fakeChooser struct {
	mu      sync.Mutex
	current string
	trial   bool
	primary string
	good    []string
	dev     map[string]string
	// trialErrs: the first calls of Trial that fail (a busy boot
	// partition), then the answer is trial.
	trialErrs int
	trialAsks int
}

func (c *fakeChooser) Current(context.Context) (string, error) { return c.current, nil }
func (c *fakeChooser) Device(_ context.Context, s string) (string, error) {
	return c.dev[s], nil
}
func (c *fakeChooser) SetPrimary(_ context.Context, s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.primary = s
	return nil
}
func (c *fakeChooser) Trial(context.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trialAsks++
	if c.trialAsks <= c.trialErrs {
		return false, errors.New("boot-chooser is-trial: cannot mount the boot partition")
	}
	return c.trial, nil
}
func (c *fakeChooser) MarkGood(_ context.Context, s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.good = append(c.good, s)
	c.trial = false
	return nil
}

type fakeGrants struct {
	id, digest string
	used       int
}

var errNoGrant = kind.New(kind.Forbidden, "no such grant")

func (g *fakeGrants) UseUpdate(_ context.Context, id, _, digest string) error {
	if id != g.id || digest != g.digest || g.used > 0 {
		return errNoGrant
	}
	g.used++
	return nil
}

func needLoop(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a bundle needs root (loop device, squashfs); CI runs as root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no /dev/loop-control")
	}
}

// TestStageAndInstall: a signed bundle is staged, installed only under
// the grant for its digest, written to the other slot byte for byte, the
// slot made primary and the board rebooted; refused bundles change
// nothing.
func TestStageAndInstall(t *testing.T) {
	needLoop(t)
	v := newVendor(t, "vendor")
	img := bytes.Repeat([]byte("slot B image "), 40000)
	good := makeBundle(t, v, "edgerec-gateway", "2026.12.2", img)
	slotB := filepath.Join(t.TempDir(), "slotB")
	os.WriteFile(slotB, bytes.Repeat([]byte{0xEE}, len(img)+4096), 0o600)
	ch := &fakeChooser{current: "A", dev: map[string]string{"A": "/nonexistent", "B": slotB}}
	gr := &fakeGrants{}
	rebooted := make(chan struct{}, 1)
	dir := t.TempDir()
	u, err := New(context.Background(), Config{Dir: dir, Keyring: v.CA, Compatible: "edgerec-gateway", RebootDelay: time.Millisecond, SystemVersion: "2026.12.1"},
		Deps{Chooser: ch, Grants: gr, Healthy: func() bool { return true }, Reboot: func() error { rebooted <- struct{}{}; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Refusals: nothing staged, slot untouched.
	other := newVendor(t, "mallory")
	data, _ := os.ReadFile(good)
	for name, body := range map[string][]byte{
		"wrongly signed":   mustRead(t, makeBundle(t, other, "edgerec-gateway", "6.6.6", img)),
		"truncated":        data[:len(data)-500],
		"other device":     mustRead(t, makeBundle(t, v, "someone-else", "1.0", img)),
		"unsigned garbage": []byte("hello"),
	} {
		if _, err := u.Stage(ctx, bytes.NewReader(body)); !IsRefusal(err) {
			t.Errorf("%s: want a refusal, got %v", name, err)
		}
		if u.Status().State != "idle" {
			t.Errorf("%s: state %s after a refusal", name, u.Status().State)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 1 { // only mnt/ may remain
		t.Errorf("leftovers after refusals: %v", ents)
	}

	st, err := u.Stage(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != "2026.12.2" || len(st.Digest) != 64 {
		t.Errorf("staged %+v", st)
	}
	// No grant, a grant for another digest: refused, nothing written.
	if err := u.Apply(ctx, "g-1", "approver", st.Digest); !errors.Is(err, errNoGrant) {
		t.Errorf("apply without grant: %v", err)
	}
	if err := u.Apply(ctx, "g-1", "approver", strings.Repeat("0", 64)); !errors.Is(err, ErrNoBundle) {
		t.Errorf("apply of another digest: %v", err)
	}
	gr.id, gr.digest = "g-1", st.Digest
	if err := u.Apply(ctx, "g-1", "approver", st.Digest); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rebooted:
	case <-time.After(time.Minute):
		t.Fatalf("no reboot; status %+v", u.Status())
	}
	got, _ := os.ReadFile(slotB)
	if !bytes.Equal(got[:len(img)], img) {
		t.Error("slot B does not hold the image")
	}
	if ch.primary != "B" || u.Status().State != "installed" {
		t.Errorf("primary %q, status %+v", ch.primary, u.Status())
	}
	if err := u.Apply(ctx, "g-1", "approver", st.Digest); err == nil {
		t.Error("a second apply of the same grant")
	}
}

// TestTrialMarkedGoodWhenHealthy: a slot on trial is kept only once the
// recorder is healthy.
func TestTrialMarkedGoodWhenHealthy(t *testing.T) {
	v := newVendor(t, "vendor")
	ch := &fakeChooser{current: "B", trial: true}
	var mu sync.Mutex
	healthy := false
	u, err := New(context.Background(), Config{Dir: t.TempDir(), Keyring: v.CA, Compatible: "edgerec-gateway"},
		Deps{Chooser: ch, Grants: &fakeGrants{}, Healthy: func() bool { mu.Lock(); defer mu.Unlock(); return healthy }, Reboot: func() error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Stage(context.Background(), bytes.NewReader([]byte("x"))); !errors.Is(err, ErrBusy) {
		t.Errorf("upload during a trial: %v", err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { done <- u.Run(ctx) }()
	time.Sleep(3 * time.Second)
	ch.mu.Lock()
	if len(ch.good) != 0 {
		t.Error("marked good before healthy")
	}
	ch.mu.Unlock()
	mu.Lock()
	healthy = true
	mu.Unlock()
	<-done
	if len(ch.good) != 1 || ch.good[0] != "B" || u.Status().Trial {
		t.Errorf("good %v, status %+v", ch.good, u.Status())
	}
}

// TestTrialConfirmedWhenChooserFailedAtStart: the boot chooser failed when
// the recorder started (seen on an emulated gateway: the updater took the
// slot for not on trial, never marked it good, and the supervisor rolled a
// good update back). The updater still starts, asks again once healthy,
// and keeps the slot; a slot not on trial is left alone.
func TestTrialConfirmedWhenChooserFailedAtStart(t *testing.T) {
	v := newVendor(t, "vendor")
	ch := &fakeChooser{current: "B", trial: true, trialErrs: 2}
	u, err := New(context.Background(), Config{Dir: t.TempDir(), Keyring: v.CA, Compatible: "edgerec-gateway"},
		Deps{Chooser: ch, Grants: &fakeGrants{}, Healthy: func() bool { return true }, Reboot: func() error { return nil }})
	if err != nil {
		t.Fatalf("a failing boot chooser at start disabled updates: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := u.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("run: %v (ctx %v)", err, ctx.Err())
	}
	ch.mu.Lock()
	good := slices.Clone(ch.good)
	ch.mu.Unlock()
	if len(good) != 1 || good[0] != "B" || u.Status().Trial {
		t.Errorf("good %v, status %+v", good, u.Status())
	}

	ch2 := &fakeChooser{current: "A"}
	u2, err := New(context.Background(), Config{Dir: t.TempDir(), Keyring: v.CA, Compatible: "edgerec-gateway"},
		Deps{Chooser: ch2, Grants: &fakeGrants{}, Healthy: func() bool { return true }, Reboot: func() error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := u2.Run(ctx); err != nil || len(ch2.good) != 0 {
		t.Errorf("not on trial: run %v, marked good %v", err, ch2.good)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrialFailureShown: after a rollback the update status carries what
// the supervisor kept of the failed slot's last run (issue 16), bounded;
// a slot still on trial does not claim a failure.
func TestTrialFailureShown(t *testing.T) {
	v := newVendor(t, "vendor")
	dir := t.TempDir()
	long := strings.Repeat("x", 20<<10)
	os.WriteFile(filepath.Join(dir, TrialFailureFile), []byte("2026-12-01T09:00:00Z edgerec failed 3 times on the trial slot (last status 1)\n"+long+"\nlevel=ERROR msg=\"the reason\"\n"), 0o600)
	deps := Deps{Chooser: &fakeChooser{current: "A"}, Grants: &fakeGrants{}, Healthy: func() bool { return false }, Reboot: func() error { return nil }}
	u, err := New(context.Background(), Config{Dir: dir, Keyring: v.CA, Compatible: "edgerec-gateway"}, deps)
	if err != nil {
		t.Fatal(err)
	}
	st := u.Status()
	if !strings.HasSuffix(st.LastTrialFailure, "level=ERROR msg=\"the reason\"\n") || len(st.LastTrialFailure) > maxTrialFailure {
		t.Errorf("last trial failure (%d bytes): …%q", len(st.LastTrialFailure), st.LastTrialFailure[max(0, len(st.LastTrialFailure)-60):])
	}
	deps.Chooser = &fakeChooser{current: "B", trial: true}
	u, err = New(context.Background(), Config{Dir: dir, Keyring: v.CA, Compatible: "edgerec-gateway"}, deps)
	if err != nil {
		t.Fatal(err)
	}
	if st := u.Status(); st.LastTrialFailure != "" {
		t.Errorf("on trial, status claims a failure: %q", st.LastTrialFailure)
	}
}
