package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// issue 14: --pprof serves the profiler on loopback and refuses anything else.
func TestPprofLoopbackOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	for _, bad := range []string{"0.0.0.0:6060", "192.168.1.10:6060", ":6060", "localhost:6060", "nonsense"} {
		if _, err := startPprof(ctx, bad, log); err == nil {
			t.Errorf("--pprof %s accepted", bad)
		}
	}
	addr, err := startPprof(ctx, "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "goroutine profile") {
		t.Fatalf("profile: %d %.200s", resp.StatusCode, b)
	}
}
