package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/hal/board"
)

// startWatchdog feeds the hardware watchdog while every recording camera
// delivered a frame within the last 30 s (the box reboots if the recorder
// hangs). Enabled with `run --watchdog /dev/watchdog`.
func startWatchdog(ctx context.Context, wg *sync.WaitGroup, path string, b *board.Board, tracker *health.Tracker, log *slog.Logger) error {
	if path == "" {
		return nil
	}
	wd, err := b.OpenWatchdog(board.WatchdogConfig{Path: path, Logger: log})
	if err != nil {
		return err
	}
	healthy := func() bool { return tracker.Fresh(30 * time.Second) }
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := wd.Keepalive(ctx, healthy); err != nil && ctx.Err() == nil {
			log.Error("watchdog starved: the recorder is stuck; the board will reboot", "err", err)
		}
	}()
	return nil
}
