package rtsprig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// Server is an RTSP server on a loopback port.
type Server struct {
	// User and Pass, when set, are required from readers (publishers on
	// loopback are trusted).
	User, Pass string

	addr string
	srv  *gortsplib.Server

	mu      sync.Mutex
	streams map[string]*published
	packets uint64
}

type published struct {
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
}

// Start listens on addr ("127.0.0.1:0" picks a free port).
func Start(addr string) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		return nil, fmt.Errorf("rtsprig: listen on 127.0.0.1 only, got %q", addr)
	}
	if strings.HasSuffix(addr, ":0") {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		addr = l.Addr().String()
		l.Close()
	}
	s := &Server{addr: addr, streams: map[string]*published{}}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// StartAuth is Start with credentials required from readers.
func StartAuth(addr, user, pass string) (*Server, error) {
	s, err := Start(addr)
	if err != nil {
		return nil, err
	}
	s.User, s.Pass = user, pass
	return s, nil
}

func (s *Server) start() error {
	udp1, err := freeUDPPort()
	if err != nil {
		return err
	}
	udp2 := udp1 + 1
	s.srv = &gortsplib.Server{
		Handler:        (*handler)(s),
		RTSPAddress:    s.addr,
		UDPRTPAddress:  fmt.Sprintf("127.0.0.1:%d", udp1),
		UDPRTCPAddress: fmt.Sprintf("127.0.0.1:%d", udp2),
		ReadTimeout:    5 * time.Second,
		WriteTimeout:   5 * time.Second,
		// gortsplib's default of 256 packets drops parts of ~400 KB 1080p
		// keyframes (issue 14); a power of two, as gortsplib wants.
		WriteQueueSize: 4096,
	}
	return s.srv.Start()
}

func freeUDPPort() (int, error) {
	for range 20 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p%2 != 0 {
			continue
		}
		c2, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err != nil {
			continue
		}
		c2.Close()
		return p, nil
	}
	return 0, errors.New("rtsprig: no free even UDP port pair")
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return s.addr }

// URL is the rtsp:// URL of a path, with the server's credentials if set.
func (s *Server) URL(path string) string {
	if s.User != "" {
		return fmt.Sprintf("rtsp://%s:%s@%s/%s", s.User, s.Pass, s.addr, path)
	}
	return fmt.Sprintf("rtsp://%s/%s", s.addr, path)
}

// Stop closes the server and every session (a camera going away).
func (s *Server) Stop() {
	s.srv.Close()
	s.mu.Lock()
	for k, p := range s.streams {
		p.stream.Close()
		delete(s.streams, k)
	}
	s.mu.Unlock()
}

// Restart starts the server again on the same address.
func (s *Server) Restart() error { return s.start() }

// Packets is how many RTP packets the server relayed.
func (s *Server) Packets() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets
}

// Publishing reports whether path has a publisher.
func (s *Server) Publishing(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.streams[path]
	return ok
}

type handler Server

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, p := range h.streams {
		if p.publisher == ctx.Session {
			p.stream.Close()
			delete(h.streams, k)
		}
	}
}

func (h *handler) checkAuth(req *base.Request) *base.Response {
	if h.User == "" {
		return nil
	}
	if err := auth.Validate(req, h.User, h.Pass, nil, "edgerec-rig", "0123456789abcdef"); err != nil {
		return &base.Response{
			StatusCode: base.StatusUnauthorized,
			Header: base.Header{
				"WWW-Authenticate": auth.GenerateWWWAuthenticate(nil, "edgerec-rig", "0123456789abcdef"),
			},
		}
	}
	return nil
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if r := h.checkAuth(ctx.Request); r != nil {
		return r, nil, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.streams[strings.Trim(ctx.Path, "/")]
	if !ok {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, p.stream, nil
}

func (h *handler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	path := strings.Trim(ctx.Path, "/")
	if p, ok := h.streams[path]; ok {
		p.stream.Close()
		p.publisher.Close()
	}
	h.streams[path] = &published{stream: gortsplib.NewServerStream(h.srv, ctx.Description), publisher: ctx.Session}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	if r := h.checkAuth(ctx.Request); r != nil {
		return r, nil, nil
	}
	p, ok := h.streams[strings.Trim(ctx.Path, "/")]
	if !ok {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, p.stream, nil
}

func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	path := strings.Trim(ctx.Path, "/")
	ctx.Session.OnPacketRTPAny(func(medi *description.Media, forma format.Format, pkt *rtp.Packet) {
		h.mu.Lock()
		p, ok := h.streams[path]
		h.packets++
		h.mu.Unlock()
		if ok {
			_ = p.stream.WritePacketRTP(medi, pkt)
		}
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// Publisher is a running ffmpeg that publishes into the server.
type Publisher struct {
	cmd  *exec.Cmd
	done chan error
	log  *strings.Builder
}

// FFmpegArgs are the encoder arguments of the test rig: libx264
// baseline, no B frames, GOP 30, yuv420p.
func FFmpegArgs(size string, fps int) []string {
	return []string{"-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", size, fps),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline",
		"-bf", "0", "-g", "30", "-pix_fmt", "yuv420p"}
}

// FFmpegArgsH265 are encoder arguments for an H.265 camera (issue 18):
// libx265 ultrafast, no B frames, GOP 30 with closed GOPs (IDR keyframes),
// yuv420p.
func FFmpegArgsH265(size string, fps int) []string {
	return []string{"-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", size, fps),
		"-c:v", "libx265", "-preset", "ultrafast", "-tune", "zerolatency",
		"-x265-params", "bframes=0:keyint=30:min-keyint=30:scenecut=0:repeat-headers=1:log-level=error",
		"-pix_fmt", "yuv420p"}
}

// Publish runs ffmpeg with the given input/encoder arguments publishing to
// path over TCP, and waits until the server has the stream.
func (s *Server) Publish(ctx context.Context, path string, encArgs []string) (*Publisher, error) {
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, errors.New("rtsprig: ffmpeg not installed (run scripts/deps.sh)")
	}
	args := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, encArgs...)
	args = append(args, "-f", "rtsp", "-rtsp_transport", "tcp", fmt.Sprintf("rtsp://%s/%s", s.addr, path))
	cmd := exec.CommandContext(ctx, ff, args...)
	logb := &strings.Builder{}
	cmd.Stdout = io.Discard
	cmd.Stderr = &syncWriter{b: logb}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Publisher{cmd: cmd, done: make(chan error, 1), log: logb}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for !s.Publishing(path) {
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("rtsprig: ffmpeg exited: %v: %s", err, logb.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, errors.New("rtsprig: ffmpeg did not start publishing within 15 s")
		}
	}
	return p, nil
}

// Stop ends ffmpeg.
func (p *Publisher) Stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// Done is closed-ish: it yields ffmpeg's exit.
func (p *Publisher) Done() <-chan error { return p.done }

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}
