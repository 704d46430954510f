package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/policy/kind"
)

// Feed is one reader of a camera's masked, coded stream; *pipeline.Reader
// implements it. It carries pipeline.Video, which only the pipeline makes
// (masked, or a passthrough the camera's policy allows): unmasked video
// cannot be shown by mistake (R2, issue 15).
type Feed interface {
	C() <-chan pipeline.Video
	Close()
}

// Source opens a feed of a camera's hub (e.g. cam.Hub().Subscribe(depth)).
// An unknown camera is an error wrapping ErrUnknownCamera.
type Source interface {
	Subscribe(camera string) (Feed, error)
}

// Errors.
var (
	ErrUnknownCamera  = kind.New(kind.NotFound, "live: unknown camera")
	ErrTooManyViewers = kind.New(kind.Unavailable, "live: too many viewers")
	// ErrViewerLimit: this viewer (user) already has MaxPerViewer sessions.
	ErrViewerLimit    = kind.New(kind.TooMany, "live: per-user live view limit reached")
	ErrUnknownSession = kind.New(kind.NotFound, "live: unknown session")
	ErrClosed         = kind.New(kind.Unavailable, "live: server closed")
)

// Config configures the live view.
type Config struct {
	// AllowLoopback offers 127.0.0.1 host candidates (tests, the browser
	// rig). Off on a device: a LAN viewer cannot reach loopback anyway.
	AllowLoopback bool
	// LAN lists the prefixes host candidates may come from. Empty means the
	// private ranges (RFC 1918, RFC 4193 ULA) only, never public addresses.
	LAN []netip.Prefix
	// UDPPortMin/Max bound the ports (0 = any ephemeral port).
	UDPPortMin, UDPPortMax uint16
	// MaxViewers bounds concurrent sessions over all cameras (default 8).
	MaxViewers int
	// MaxPerViewer bounds the concurrent sessions of one viewer (user), so
	// that one account cannot take every slot (default 2, at most
	// MaxViewers).
	MaxPerViewer int
	// ConnectTimeout closes a session that has not connected (default 20s).
	ConnectTimeout time.Duration
	// FeedDepth is the hub reader's queue in access units (default 30).
	FeedDepth int
}

// Deps are the collaborators.
type Deps struct {
	Source Source
	Logger *slog.Logger
	Now    func() time.Time // nil means time.Now; stamps SessionInfo.Started
}

// Viewer names who opens a session: the user id and an opaque handle of
// the login session it was opened under (the web layer re-checks both
// while the session runs; live only stores them).
type Viewer struct {
	User    string
	Session string
}

// SessionInfo describes one running session (Sessions).
type SessionInfo struct {
	ID      string
	Camera  string
	Viewer  Viewer
	Started time.Time
}

// Answer is the result of an accepted offer.
type Answer struct {
	SDP     string
	Session string // opaque id; DELETE it to hang up
}

// Stats is a point-in-time count for health and metrics.
type Stats struct {
	Sessions int
	Channels int
	Samples  uint64 // access units written to shared tracks
}

// Server runs the WHEP sessions. Create with New; Run until ctx ends.
type Server struct {
	cfg Config
	src Source
	log *slog.Logger
	now func() time.Time
	api *webrtc.API

	mu       sync.Mutex
	closed   bool
	chans    map[string]*channel
	sessions map[string]*session
	samples  uint64
}

// channel is one camera's shared track and its single hub reader.
type channel struct {
	cam     string
	track   *webrtc.TrackLocalStaticSample
	feed    Feed
	viewers int
	done    chan struct{}
}

type session struct {
	id, cam string
	viewer  Viewer
	started time.Time
	pc      *webrtc.PeerConnection
	ch      *channel
	once    sync.Once
}

// New builds the WebRTC API: H.264 only, default interceptors (NACK, RTCP
// reports), host candidates only, mDNS off, no ICE servers.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Source == nil {
		return nil, errors.New("live: deps: source is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxViewers <= 0 {
		cfg.MaxViewers = 8
	}
	if cfg.MaxPerViewer <= 0 {
		cfg.MaxPerViewer = 2
	}
	cfg.MaxPerViewer = min(cfg.MaxPerViewer, cfg.MaxViewers)
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 20 * time.Second
	}
	if cfg.FeedDepth <= 0 {
		cfg.FeedDepth = 30
	}
	me := &webrtc.MediaEngine{}
	for i, fmtp := range []string{
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032",
	} {
		err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: fmtp,
				RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}},
			PayloadType: webrtc.PayloadType(102 + 2*i),
		}, webrtc.RTPCodecTypeVideo)
		if err != nil {
			return nil, fmt.Errorf("live: register codec: %w", err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("live: interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.AllowLoopback)
	lan := cfg.LAN
	se.SetIPFilter(func(ip net.IP) bool {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return false
		}
		return hostAllowed(a.Unmap(), lan, cfg.AllowLoopback)
	})
	if cfg.UDPPortMin != 0 || cfg.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("live: port range: %w", err)
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return &Server{cfg: cfg, src: deps.Source, log: deps.Logger, now: deps.Now, api: api,
		chans: make(map[string]*channel), sessions: make(map[string]*session)}, nil
}

// hostAllowed: LAN prefixes (default private ranges), loopback only if
// allowed; never public or link-local addresses.
func hostAllowed(a netip.Addr, lan []netip.Prefix, loopback bool) bool {
	if a.IsLoopback() {
		return loopback
	}
	if len(lan) == 0 {
		return a.IsPrivate()
	}
	for _, p := range lan {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Run waits for ctx to end and then hangs up every session.
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	s.mu.Lock()
	s.closed = true
	var all []*session
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		s.end(ss, "shutdown")
	}
	return nil
}

// Stats reports sessions and channels.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Sessions: len(s.sessions), Channels: len(s.chans), Samples: s.samples}
}

// Offer answers a WHEP offer for camera on behalf of viewer (its user id is
// for the log, the per-viewer limit and Close). It waits for ICE gathering
// (non-trickle WHEP). ErrTooManyViewers: the device is full;
// ErrViewerLimit: this user already has MaxPerViewer sessions.
func (s *Server) Offer(ctx context.Context, camera string, viewer Viewer, offer string) (Answer, error) {
	if err := CheckOffer(offer); err != nil {
		return Answer{}, err
	}
	id, err := newID()
	if err != nil {
		return Answer{}, err
	}
	ss := &session{id: id, cam: camera, viewer: viewer, started: s.now()}
	// join counts and registers the session under one lock, so parallel
	// offers cannot slip past the device or the per-viewer limit.
	ch, err := s.join(ss)
	if err != nil {
		return Answer{}, err
	}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		s.end(ss, "offer failed")
		return Answer{}, fmt.Errorf("live: peer connection: %w", err)
	}
	s.mu.Lock()
	ss.pc = pc
	_, alive := s.sessions[id]
	s.mu.Unlock()
	if !alive { // ended (re-check, shutdown) while the connection was made
		_ = pc.Close()
		return Answer{}, ErrUnknownSession
	}

	fail := func(err error) (Answer, error) {
		s.end(ss, "offer failed")
		return Answer{}, err
	}
	sender, err := pc.AddTrack(ch.track)
	if err != nil {
		return fail(fmt.Errorf("live: add track: %w", err))
	}
	go func() { // drain RTCP so the interceptors (NACK, reports) run
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			go s.end(ss, st.String())
		case webrtc.PeerConnectionStateConnected:
			s.log.Info("live: viewer connected", "camera", camera, "viewer", viewer.User, "session", id)
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(fmt.Errorf("live: set local description: %w", err))
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	time.AfterFunc(s.cfg.ConnectTimeout, func() {
		if pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			s.end(ss, "connect timeout")
		}
	})
	return Answer{SDP: pc.LocalDescription().SDP, Session: id}, nil
}

// Close hangs up session id; only its viewer (user) may.
func (s *Server) Close(id, user string) error {
	s.mu.Lock()
	ss, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok || ss.viewer.User != user {
		return ErrUnknownSession
	}
	s.end(ss, "hung up")
	return nil
}

// Sessions lists the running sessions (for the web layer's re-checks).
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SessionInfo, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, SessionInfo{ID: ss.id, Camera: ss.cam, Viewer: ss.viewer, Started: ss.started})
	}
	return out
}

// End hangs up session id for reason and reports whether this call ended
// it (false: unknown or already ended), so the caller audits each closing
// once. The viewer's PeerConnection is closed: DTLS close_notify, the
// browser's track ends.
func (s *Server) End(id, reason string) bool {
	s.mu.Lock()
	ss, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok {
		return false
	}
	return s.end(ss, reason)
}

// end closes ss once; it reports whether this call closed it.
func (s *Server) end(ss *session, why string) bool {
	done := false
	ss.once.Do(func() {
		done = true
		s.mu.Lock()
		delete(s.sessions, ss.id)
		pc := ss.pc
		s.mu.Unlock()
		if pc != nil {
			_ = pc.Close()
		}
		s.leave(ss.ch)
		s.log.Info("live: session ended", "camera", ss.cam, "viewer", ss.viewer.User, "session", ss.id, "why", why)
	})
	return done
}

// join checks the limits, registers ss and returns its camera's channel,
// starting it (one hub reader, one track) for the first viewer.
func (s *Server) join(ss *session) (*channel, error) {
	camera := ss.cam
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if len(s.sessions) >= s.cfg.MaxViewers {
		return nil, ErrTooManyViewers
	}
	mine := 0
	for _, o := range s.sessions {
		if o.viewer.User == ss.viewer.User {
			mine++
		}
	}
	if mine >= s.cfg.MaxPerViewer {
		return nil, fmt.Errorf("%w: at most %d live views per user; close one first", ErrViewerLimit, s.cfg.MaxPerViewer)
	}
	if ch, ok := s.chans[camera]; ok {
		ch.viewers++
		ss.ch = ch
		s.sessions[ss.id] = ss
		return ch, nil
	}
	feed, err := s.src.Subscribe(camera)
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "edgerec-"+camera)
	if err != nil {
		feed.Close()
		return nil, fmt.Errorf("live: track: %w", err)
	}
	ch := &channel{cam: camera, track: track, feed: feed, viewers: 1, done: make(chan struct{})}
	s.chans[camera] = ch
	ss.ch = ch
	s.sessions[ss.id] = ss
	go s.pump(ch)
	return ch, nil
}

// leave drops a viewer; the last one stops the channel's hub reader.
func (s *Server) leave(ch *channel) {
	s.mu.Lock()
	ch.viewers--
	last := ch.viewers <= 0
	if last && s.chans[ch.cam] == ch {
		delete(s.chans, ch.cam)
	}
	feed := ch.feed
	s.mu.Unlock()
	if last {
		feed.Close()
	}
}

// pump writes every access unit once to the shared track; pion packetizes
// it for each bound PeerConnection. When the camera restarts (new masks,
// new settings) its hub closes; the pump subscribes again while viewers
// remain.
func (s *Server) pump(ch *channel) {
	defer close(ch.done)
	feed := ch.feed
	for {
		var last time.Duration
		warned := false
		for v := range feed.C() {
			au := v.AU()
			if au.IsH265() {
				// Issue 18: the track is H.264; an H.265 passthrough
				// camera's units would be garbage to the browser. Not sent.
				if !warned {
					s.log.Warn("live: camera sends H.265; live view needs H.264 (switch the camera's codec or use its H.264 sub stream)", "camera", ch.cam)
					warned = true
				}
				continue
			}
			d := au.PTS - last
			if last == 0 || d <= 0 || d > time.Second {
				d = time.Second / 15
			}
			last = au.PTS
			if err := ch.track.WriteSample(pmedia.Sample{Data: au.Data, Duration: d}); err != nil {
				s.log.Debug("live: write sample", "camera", ch.cam, "err", err)
			}
			s.mu.Lock()
			s.samples++
			s.mu.Unlock()
		}
		for {
			time.Sleep(200 * time.Millisecond)
			s.mu.Lock()
			gone := ch.viewers <= 0 || s.closed
			s.mu.Unlock()
			if gone {
				return
			}
			f, err := s.src.Subscribe(ch.cam)
			if err != nil {
				continue
			}
			s.mu.Lock()
			if ch.viewers <= 0 {
				s.mu.Unlock()
				f.Close()
				return
			}
			ch.feed = f
			s.mu.Unlock()
			feed = f
			break
		}
	}
}

func newID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("live: session id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
