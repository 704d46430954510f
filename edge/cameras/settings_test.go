package cameras

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/web"
	"github.com/edgerec/edgerec/policy/grants"
	"github.com/edgerec/edgerec/policy/rules"
)

// The Settings page's changes go through the manager, the config file's
// one writer (issue 18): a change is validated as a whole and written with
// the device's record; a change that does not validate, fails or touches a
// camera writes nothing.
func TestChangeSettingsValidatesAndWrites(t *testing.T) {
	r := newRig(t)
	m := r.manager(Deps{})
	before := mustRead(t, r.path)
	err := m.ChangeSettings(r.ctx, func(c *config.Config) error { c.GPIO.StatusLED = "PIN1"; return nil })
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Path != "gpio.status_led" {
		t.Fatalf("bad pin: %v", err)
	}
	err = m.ChangeSettings(r.ctx, func(c *config.Config) error { c.Cameras[0].Name = "sneaky"; return nil })
	if !errors.Is(err, web.ErrInvalid) {
		t.Fatalf("camera change through settings: %v", err)
	}
	if !bytes.Equal(mustRead(t, r.path), before) || m.Config().GPIO.StatusLED != "" || m.Config().Cameras[0].Name == "sneaky" {
		t.Fatal("a refused change was written or kept")
	}
	if err := m.ChangeSettings(r.ctx, func(c *config.Config) error {
		c.GPIO.StatusLED = "GPIO17"
		c.LAN.Allowlist = append(c.LAN.Allowlist, "10.0.0.0/8")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(r.path)
	if err != nil || c.GPIO.StatusLED != "GPIO17" || len(c.LAN.Allowlist) == 0 {
		t.Fatalf("written: %+v %v", c, err)
	}
	if s, err := externalChange(r.path, mustRead(t, r.path), m.Config()); err != nil || s != "" {
		t.Fatalf("the write is not recorded as the device's own: %q %v", s, err)
	}
}

// Retention (R6): lengthening applies at once; shortening keeps less
// footage, so it waits for an approver (R27, retention_reduce) and the
// approval applies it without restarting the camera; a value outside the
// floor and ceiling is refused naming the field.
func TestSetRetentionShorteningWaits(t *testing.T) {
	r := newCovRig(t)
	ctx, m := r.ctx, r.m
	floor := r.cfg.Retention().WithDefaults().Floor
	if err := m.SetRetention(ctx, "demo1", config.Duration(floor/2)); err == nil {
		t.Fatal("below the floor accepted")
	} else if ce := (*config.Error)(nil); !errors.As(err, &ce) || ce.Path != "cameras[0].retention" {
		t.Fatalf("below the floor: %v", err)
	}
	long := config.Duration(floor + 30*rules.Day)
	if err := m.SetRetention(ctx, "demo1", long); err != nil {
		t.Fatal(err)
	}
	if m.Retention()["demo1"] != long.D() {
		t.Fatalf("lengthening not in force: %v", m.Retention())
	}
	before := mustRead(t, r.path)
	short := config.Duration(floor + 10*rules.Day)
	var na *web.NeedsApproval
	if err := m.SetRetention(ctx, "demo1", short); !errors.As(err, &na) || na.Change.Kind != grants.KindRetention {
		t.Fatalf("shortening applied by one person: %v", err)
	}
	if !bytes.Equal(mustRead(t, r.path), before) || m.Retention()["demo1"] != long.D() {
		t.Fatal("shortening written before approval")
	}
	// The camera form's Update is held to the same rule.
	cam, _ := m.Camera("demo1")
	cam.Retention = short
	if err := m.Update(ctx, cam); !errors.As(err, &na) || na.Change.Kind != grants.KindRetention {
		t.Fatalf("shortening through Update: %v", err)
	}
	g, err := r.ps.Request(ctx, r.inst, grants.Request{Action: grants.Coverage, Cameras: []string{"demo1"}, Kind: na.Change.Kind,
		Digest: na.Change.Digest, Validity: time.Hour, Purpose: "shorter retention"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ps.Approve(ctx, r.boss, g.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyCoverage(ctx, g.ID, r.boss); err != nil {
		t.Fatal(err)
	}
	if m.Retention()["demo1"] != short.D() || m.Recording() != 1 {
		t.Fatalf("after approval: %v, %d recording", m.Retention(), m.Recording())
	}
	if c, err := config.Load(r.path); err != nil || c.Cameras[0].Retention != short {
		t.Fatalf("file after approval: %v", err)
	}
}
