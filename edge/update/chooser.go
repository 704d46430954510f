package update

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Chooser is the boot slot state: RAUC's custom bootloader backend
// interface (/usr/libexec/edgerec/boot-chooser).
type Chooser interface {
	// Current is the slot of the running root ("A" or "B").
	Current(ctx context.Context) (string, error)
	// Device is the block device of slot.
	Device(ctx context.Context, slot string) (string, error)
	// SetPrimary starts a trial of slot: the next boots try it.
	SetPrimary(ctx context.Context, slot string) error
	// Trial reports whether the running slot is on trial.
	Trial(ctx context.Context) (bool, error)
	// MarkGood keeps slot (ends its trial).
	MarkGood(ctx context.Context, slot string) error
}

// ScriptChooser runs the boot-chooser script.
type ScriptChooser struct{ Path string }

func (c ScriptChooser) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, c.Path, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("update: boot-chooser %s: %w (%s)", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func slotOK(s string) error {
	if s != "A" && s != "B" {
		return fmt.Errorf("update: bad slot %q", s)
	}
	return nil
}

// Current implements Chooser.
func (c ScriptChooser) Current(ctx context.Context) (string, error) {
	s, err := c.run(ctx, "get-current")
	if err != nil {
		return "", err
	}
	return s, slotOK(s)
}

// Device implements Chooser.
func (c ScriptChooser) Device(ctx context.Context, slot string) (string, error) {
	if err := slotOK(slot); err != nil {
		return "", err
	}
	d, err := c.run(ctx, "device", slot)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(d, "/dev/") {
		return "", fmt.Errorf("update: boot-chooser: slot %s device %q", slot, d)
	}
	return d, nil
}

// SetPrimary implements Chooser.
func (c ScriptChooser) SetPrimary(ctx context.Context, slot string) error {
	if err := slotOK(slot); err != nil {
		return err
	}
	_, err := c.run(ctx, "set-primary", slot)
	return err
}

// Trial implements Chooser.
func (c ScriptChooser) Trial(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := exec.CommandContext(ctx, c.Path, "is-trial").Run()
	if err == nil {
		return true, nil
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return false, nil
	}
	return false, fmt.Errorf("update: boot-chooser is-trial: %w", err)
}

// MarkGood implements Chooser.
func (c ScriptChooser) MarkGood(ctx context.Context, slot string) error {
	if err := slotOK(slot); err != nil {
		return err
	}
	_, err := c.run(ctx, "set-state", slot, "good")
	return err
}
