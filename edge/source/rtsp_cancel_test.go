package source

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestRTSPStopWhileConnecting: a camera stopped (its context cancelled)
// while the RTSP connection is still being set up returns the context's
// error and never crashes the recorder (seen when a camera with an
// unreachable host was changed on the LAN page: gortsplib's Close on a
// client that had not started yet dereferenced nil).
func TestRTSPStopWhileConnecting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // accepts and never answers: DESCRIBE blocks
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for i := range 40 {
		ctx, cancel := context.WithCancel(context.Background())
		if i%2 == 0 {
			cancel() // before the client starts
		} else {
			time.AfterFunc(time.Duration(i)*time.Millisecond, cancel)
		}
		src, err := Open(ctx, "rtsp://u:p@"+l.Addr().String()+"/cam", Options{Timeout: 2 * time.Second})
		cancel()
		if err == nil {
			src.Close()
			t.Fatal("opened a server that never answers")
		}
	}
}
