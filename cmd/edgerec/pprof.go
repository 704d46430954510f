package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"
)

// startPprof serves Go's profiler on addr for anyone profiling a running
// gateway (issue 14: `edgerec run --pprof 127.0.0.1:6060`, then
// `go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=30`).
// Off by default; loopback addresses only (an SSH tunnel reaches it from a
// laptop): profiles show code paths and timing, never video, but they are
// nobody's business on the LAN. It stops when ctx ends.
func startPprof(ctx context.Context, addr string, log *slog.Logger) (net.Addr, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--pprof %q: want a loopback host:port such as 127.0.0.1:6060", addr)}
	}
	if !ap.Addr().IsLoopback() {
		return nil, usageError{fmt.Sprintf("--pprof %q: only loopback addresses (127.0.0.0/8, ::1) are allowed", addr)}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof server", "err", err)
		}
	}()
	log.Info("profiler listening (loopback only)", "addr", ln.Addr().String())
	return ln.Addr(), nil
}
