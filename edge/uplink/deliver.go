package uplink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgerec/edgerec/edge/health"
)

// ErrNotDelivered means the broker did not take a message within the time
// given (it stays in the outbox of a running uplink).
var ErrNotDelivered = errors.New("not taken by the broker in time")

// Deliver queues e and waits up to within until the broker acknowledged
// everything in the outbox (the daemon's last messages, such as a wipe
// certificate). The uplink must be running.
func (u *Uplink) Deliver(ctx context.Context, e Event, within time.Duration) error {
	if err := u.Event(ctx, e); err != nil {
		return err
	}
	return u.awaitDrained(ctx, within)
}

// awaitDrained waits until the uplink is connected and its outbox empty.
func (u *Uplink) awaitDrained(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		if u.Connected() && u.OutboxStats().Count == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%s)", ErrNotDelivered, within)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// SendOnce sends e through a temporary uplink of its own (cfg with an
// outbox in a temporary directory, removed afterwards) and returns once the
// broker took it, or ErrNotDelivered after within. The CLI's decommission
// uses it: the daemon is not running then.
func SendOnce(ctx context.Context, cfg Config, e Event, within time.Duration) error {
	tmp, err := os.MkdirTemp("", "edgerec-send-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cfg.OutboxPath = filepath.Join(tmp, "outbox.db")
	if cfg.IDKey == nil {
		cfg.IDKey = make([]byte, 32)
	}
	up, err := New(cfg, Deps{Health: noHealth{}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := up.Event(ctx, e); err != nil {
		_ = up.Close()
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = up.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	// The status message and e leave the outbox once the broker
	// acknowledged them.
	return up.awaitDrained(ctx, within)
}

// noHealth is an empty health view (a temporary uplink sends no beacon
// worth reading).
type noHealth struct{}

func (noHealth) Snapshot() health.Snapshot { return health.Snapshot{} }
