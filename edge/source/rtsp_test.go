package source

import (
	"context"
	"errors"
	"math"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source/rtsprig"
)

func startRig(t *testing.T, user, pass string) *rtsprig.Server {
	t.Helper()
	srv, err := rtsprig.StartAuth("127.0.0.1:0", user, pass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

func publish(t *testing.T, srv *rtsprig.Server, path string, args []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := srv.Publish(ctx, path, args)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(); cancel() })
}

// TestRTSPReceive: over TCP and UDP, H.264 from an ffmpeg camera arrives as
// access units with wall times, the first is a keyframe with SPS/PPS in
// band, the size and rate come from the SPS, and every unit decodes (D2).
func TestRTSPReceive(t *testing.T) {
	srv := startRig(t, "", "")
	publish(t, srv, "cam", rtsprig.FFmpegArgs("640x360", 15))
	for _, tr := range []string{"tcp", "udp"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			src, err := Open(ctx, srv.URL("cam")+"?transport="+tr, Options{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			cs, ok := src.(CodedSource)
			if !ok {
				t.Fatal("rtsp source is not coded")
			}
			info := cs.Info()
			if info.Width != 640 || info.Height != 360 || info.Codec != "h264" {
				t.Fatalf("info %+v", info)
			}
			dec, err := codec.NewDecoder()
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			var prev time.Time
			keys, pics := 0, 0
			for i := range 45 {
				au, err := cs.ReadAU(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 && (!au.Key || !codec.HasParameterSets(au.Data)) {
					t.Fatalf("first unit: key=%v types %v", au.Key, codec.NALTypes(au.Data))
				}
				if au.Key {
					keys++
					if !codec.HasParameterSets(au.Data) {
						t.Fatalf("keyframe without SPS/PPS: %v", codec.NALTypes(au.Data))
					}
				}
				if !au.Wall.After(prev) {
					t.Fatalf("unit %d: wall %v not after %v", i, au.Wall, prev)
				}
				if d := time.Since(au.Wall); d > 3*time.Second || d < -3*time.Second {
					t.Fatalf("wall time %v is %v from now", au.Wall, d)
				}
				prev = au.Wall
				pic, err := dec.Decode(au.Data)
				if err != nil {
					t.Fatalf("unit %d: %v", i, err)
				}
				if pic != nil {
					pics++
				}
			}
			if keys < 1 || pics < 44 {
				t.Fatalf("%d keyframes, %d pictures", keys, pics)
			}
			if fps := cs.Info().FPS; fps < 14 || fps > 16 {
				t.Fatalf("fps %.1f", fps)
			}
		})
	}
}

// TestRTSPBadInput: unreachable host, wrong credentials, 404 path, a
// server that talks garbage, a codec other than H.264: one clear error
// each, within the timeout, and never the password (issue 4).
func TestRTSPBadInput(t *testing.T) {
	srv := startRig(t, "admin", "s3cret-pass")
	publish(t, srv, "cam", rtsprig.FFmpegArgs("320x240", 15))
	publish(t, srv, "mpeg4", []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15", "-c:v", "mpeg4"})

	garbage, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	go func() {
		for {
			c, err := garbage.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_, _ = c.Write([]byte("HTTP/9.9 777 \x00\x01garbage\r\n\r\n\xff\xfe"))
				time.Sleep(200 * time.Millisecond)
			}()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	good := srv.URL("cam")
	cases := []struct {
		name, url string
		want      string
		is        error
	}{
		{"ok with digest", good, "", nil},
		{"wrong password", strings.Replace(good, "s3cret-pass", "wrong-pass", 1), "wrong credentials", nil},
		{"no credentials", "rtsp://" + srv.Addr() + "/cam", "wrong credentials", nil},
		{"404", strings.Replace(good, "/cam", "/nope", 1), "no such stream", nil},
		{"unreachable", "rtsp://" + closedAddr + "/cam", "connect", nil},
		{"garbage server", "rtsp://" + garbage.Addr().String() + "/cam", "rtsp://", nil},
		{"mpeg4 codec", strings.Replace(good, "/cam", "/mpeg4", 1), "not supported", ErrCodecNotSupported},
		{"bad transport", good + "?transport=sctp", "transport", ErrBadURL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			src, err := Open(ctx, c.url, Options{Timeout: 3 * time.Second})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				src.Close()
				return
			}
			if err == nil {
				src.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "wrong-pass") {
				t.Errorf("error leaks a password: %v", err)
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
}

// TestRTSPStreamStops: when the camera goes away mid-stream, ReadAU
// returns an error instead of hanging.
func TestRTSPStreamStops(t *testing.T) {
	srv := startRig(t, "", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := srv.Publish(ctx, "cam", rtsprig.FFmpegArgs("320x240", 15))
	if err != nil {
		t.Fatal(err)
	}
	src, err := Open(ctx, srv.URL("cam"), Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cs := src.(CodedSource)
	if _, err := cs.ReadAU(ctx); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	srv.Stop()
	deadline := time.After(15 * time.Second)
	for {
		done := make(chan error, 1)
		go func() { _, err := cs.ReadAU(ctx); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				return
			}
		case <-deadline:
			t.Fatal("ReadAU hung after the camera went away")
		}
	}
}

// FuzzRTPH264: random RTP payloads through the depacketizer and the access
// unit assembly never panic; what comes out starts with a start code, and
// every keyframe carries SPS and PPS; an SPS beyond the limits is refused.
func FuzzRTPH264(f *testing.F) {
	f.Add([]byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8}, []byte{0x68, 0xce, 0x3c, 0x80}, []byte{0x65, 0x88, 0x84, 0x00})
	f.Add([]byte{0x7c, 0x85, 0x88}, []byte{0x7c, 0x45, 0x01}, []byte{0x18, 0x00, 0x02, 0x67, 0x42})
	f.Add([]byte{}, []byte{0x00}, []byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, p1, p2, p3 []byte) {
		dec := &rtph264.Decoder{PacketizationMode: 1}
		if err := dec.Init(); err != nil {
			t.Fatal(err)
		}
		s := &rtspSource{now: time.Now, aus: make(chan media.AccessUnit, 16), firstKey: make(chan struct{}), failed: make(chan struct{})}
		for i, pl := range [][]byte{p1, p2, p3} {
			pkt := &rtp.Packet{Header: rtp.Header{Marker: true, SequenceNumber: uint16(i), Timestamp: uint32(i * 6000)}, Payload: pl}
			nalus, err := dec.Decode(pkt)
			if err != nil {
				continue
			}
			if err := s.handleAU(nalus, int64(i*6000)); err != nil {
				if !errors.Is(err, ErrStream) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				continue
			}
		}
		close(s.aus)
		for au := range s.aus {
			if len(au.Data) < 5 || au.Data[0] != 0 || au.Data[1] != 0 || au.Data[2] != 0 || au.Data[3] != 1 {
				t.Fatalf("unit without start code: %x", au.Data)
			}
			if au.Key && !codec.HasParameterSets(au.Data) {
				t.Fatalf("keyframe without parameter sets: %x", au.Data)
			}
		}
		if w, h := s.info.Width, s.info.Height; w > MaxWidth || h > MaxHeight {
			t.Fatalf("accepted %dx%d", w, h)
		}
	})
}

// TestProbe: an installer can probe an RTSP URL for codec, size and rate
// without recording (issue 4).
func TestProbe(t *testing.T) {
	srv := startRig(t, "", "")
	publish(t, srv, "cam", rtsprig.FFmpegArgs("320x240", 10))
	info, err := Probe(context.Background(), srv.URL("cam"), Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if info.Codec != "h264" || info.Width != 320 || info.Height != 240 || info.FPS < 9 || info.FPS > 11 {
		t.Fatalf("probe: %+v", info)
	}
	if _, err := Probe(context.Background(), "test://pattern?width=64&height=48", Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestRTSPDropsAreCounted (issue 14, R23): a pipeline that stops reading
// loses units once the queue is full, and then every unit up to the next
// keyframe; Dropped counts each one, so received + dropped accounts for
// every picture the camera sent (no silent loss).
func TestRTSPDropsAreCounted(t *testing.T) {
	srv := startRig(t, "", "")
	publish(t, srv, "cam", rtsprig.FFmpegArgs("320x240", 60))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := Open(ctx, srv.URL("cam")+"?transport=tcp", Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cs := src.(CodedSource)
	first, err := cs.ReadAU(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second) // ~240 units sent, the queue holds 128
	received := uint64(1)
	last := first
	until := time.Now().Add(2 * time.Second)
	for time.Now().Before(until) {
		au, err := cs.ReadAU(ctx)
		if err != nil {
			t.Fatal(err)
		}
		received++
		last = au
	}
	dropped := src.(interface{ Dropped() uint64 }).Dropped()
	sent := uint64(math.Round((last.PTS-first.PTS).Seconds()*60)) + 1
	t.Logf("sent %d, received %d, dropped %d", sent, received, dropped)
	if dropped < 60 {
		t.Fatalf("only %d units counted as dropped after 4 s without reading", dropped)
	}
	if received+dropped+2 < sent || received+dropped > sent+2 {
		t.Fatalf("sent %d, received %d + dropped %d: loss not counted", sent, received, dropped)
	}
}

// Issue 14 bad input: bursts of 2 MB access units while the pipeline does
// not read: the queue between network and pipeline stays within
// MaxQueueBytes (not 128 × 2 MB), the rest is dropped up to the next
// keyframe and counted, and the heap stays bounded.
func TestQueueBoundedInBytes(t *testing.T) {
	s := &rtspSource{now: time.Now, aus: make(chan media.AccessUnit, auQueue), firstKey: make(chan struct{}), failed: make(chan struct{})}
	sps, pps := paramSets(t)
	big := func(typ byte) []byte {
		b := make([]byte, 2<<20)
		b[0] = typ
		for i := 1; i < len(b); i++ {
			b[i] = 0x55 // no start code inside
		}
		return b
	}
	idr, p := big(0x65), big(0x41)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for burst := range 3 {
		for i := range 100 {
			nalus := [][]byte{p}
			if i%25 == 0 {
				nalus = [][]byte{sps, pps, idr}
			}
			if err := s.handleAU(nalus, int64((burst*100+i)*6000)); err != nil {
				t.Fatal(err)
			}
		}
		if q := s.queued.Load(); q > MaxQueueBytes {
			t.Fatalf("burst %d: %d bytes queued, bound %d", burst, q, MaxQueueBytes)
		}
		if n := len(s.aus); n > MaxQueueBytes/(2<<20) {
			t.Fatalf("burst %d: %d units queued", burst, n)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	grew := int64(m1.HeapInuse) - int64(m0.HeapInuse)
	t.Logf("queued %d units, %d bytes; dropped %d; heap in use grew %d MiB", len(s.aus), s.queued.Load(), s.Dropped(), grew>>20)
	if s.Dropped() < 250 {
		t.Fatalf("dropped %d of 300 units, want the overflow counted", s.Dropped())
	}
	// Generous: the queue's 32 MiB plus the test's own 4 MiB of NALs.
	if grew > 64<<20 {
		t.Fatalf("heap in use grew by %d MiB", grew>>20)
	}
	// Reading releases the bytes.
	for len(s.aus) > 0 {
		if _, err := s.ReadAU(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if q := s.queued.Load(); q != 0 {
		t.Fatalf("%d bytes still counted after the queue drained", q)
	}
}

// paramSets returns the SPS and PPS of a small stream from our encoder.
func paramSets(t *testing.T) (sps, pps []byte) {
	t.Helper()
	enc, err := codec.NewEncoder(codec.EncoderConfig{Width: 64, Height: 64, FPS: 15})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	m, err := mask.New(nil, mask.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := media.NewFrame(64, 64)
	au, _, err := enc.Encode(m.Apply(f).Frame())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range codec.SplitAnnexB(au.Data) {
		switch n[0] & 0x1f {
		case codec.NALSPS:
			sps = n
		case 8:
			pps = n
		}
	}
	if sps == nil || pps == nil {
		t.Fatal("no parameter sets")
	}
	return sps, pps
}
