package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgerec/edgerec/edge/source/rtsprig"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8554", "listen address (loopback only)")
	size := flag.String("size", "1280x720", "picture size")
	fps := flag.Int("fps", 15, "frame rate")
	path := flag.String("path", "cam", "stream path")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := rtsprig.Start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtspserver:", err)
		os.Exit(1)
	}
	defer srv.Stop()
	pub, err := srv.Publish(ctx, *path, rtsprig.FFmpegArgs(*size, *fps))
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtspserver:", err)
		os.Exit(1)
	}
	defer pub.Stop()
	fmt.Printf("serving %s (%s at %d fps)\n", srv.URL(*path), *size, *fps)
	select {
	case <-ctx.Done():
	case err := <-pub.Done():
		fmt.Fprintln(os.Stderr, "rtspserver: ffmpeg stopped:", err)
		os.Exit(1)
	}
}
