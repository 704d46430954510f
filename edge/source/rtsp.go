package source

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/edgerec/edgerec/edge/media"
)

// Limits on what a camera may claim. A larger SPS is refused (an absurd
// SPS must not make the recorder allocate gigabytes).
const (
	MaxWidth  = 4096
	MaxHeight = 4096
	// auQueue is how many access units wait between the network and the
	// pipeline; when the pipeline falls behind, units are dropped up to
	// the next keyframe and counted.
	auQueue = 128
	// MaxQueueBytes bounds the same queue in bytes (issue 14: 128 units of
	// 2 MB would be 256 MB per camera); a unit that does not fit is
	// dropped like one that finds the queue full.
	MaxQueueBytes = 32 << 20
)

// rtspSource receives H.264 or H.265 from an RTSP camera with gortsplib.
// H.265 (issue 18) is passed through as it comes: keyframes are IRAP
// pictures (IDR, CRA, BLA) with VPS, SPS and PPS in band; units carry
// Codec "h265".
//
// Timestamps: the camera's RTP clock gives the spacing of pictures; the
// gateway's own clock anchors them (the first picture gets the local
// receive time, later ones anchor + RTP delta). Camera clocks are often
// wrong and the recorder's index must follow one clock. If the two drift
// apart by more than two seconds the anchor is reset (and the segmenter
// sees the jump).
type rtspSource struct {
	client *gortsplib.Client
	now    func() time.Time

	mu      sync.Mutex
	info    media.StreamInfo
	sps     []byte
	pps     []byte
	vps     []byte // H.265 only
	h265    bool
	anchor  time.Time
	pts0    int64
	lastPTS int64
	seenKey bool
	needKey bool
	fpsSet  bool // the frame rate came from the SPS or was measured

	// started and abandoned (under mu) keep Close after Start during
	// setup (closeClient).
	started, abandoned bool

	aus      chan media.AccessUnit
	firstKey chan struct{}
	keyOnce  sync.Once
	failOnce sync.Once
	failErr  error
	failed   chan struct{}
	dropped  atomic.Uint64
	decErrs  atomic.Uint64
	queued   atomic.Int64 // bytes in aus
}

func openRTSP(ctx context.Context, u *url.URL, o Options) (Source, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	q := u.Query()
	var transport *gortsplib.Transport
	switch t := q.Get("transport"); t {
	case "", "auto":
	case "tcp":
		v := gortsplib.TransportTCP
		transport = &v
	case "udp":
		v := gortsplib.TransportUDP
		transport = &v
	default:
		return nil, fmt.Errorf("%w: transport=%q (want tcp, udp or auto)", ErrBadURL, t)
	}
	q.Del("transport")
	clean := *u
	clean.RawQuery = q.Encode()
	bu, err := base.ParseURL(clean.String())
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadURL, redactErr(err))
	}
	where := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()

	s := &rtspSource{
		now:      now,
		aus:      make(chan media.AccessUnit, auQueue),
		firstKey: make(chan struct{}),
		failed:   make(chan struct{}),
		info:     media.StreamInfo{Codec: "h264", FPS: 15},
	}
	c := &gortsplib.Client{ReadTimeout: timeout, WriteTimeout: timeout, Transport: transport}
	s.client = c
	// Connecting and DESCRIBE block; bound them by ctx and timeout.
	setupDone := make(chan error, 1)
	go func() { setupDone <- s.setup(bu) }()
	select {
	case err := <-setupDone:
		if err != nil {
			s.closeClient()
			return nil, fmt.Errorf("rtsp %s: %w", where, err)
		}
	case <-ctx.Done():
		s.closeClient()
		return nil, ctx.Err()
	case <-time.After(timeout + time.Second):
		s.closeClient()
		return nil, fmt.Errorf("rtsp %s: no answer within %s", where, timeout)
	}
	go func() { s.fail(c.Wait()) }()
	select {
	case <-s.firstKey:
		return s, nil
	case <-s.failed:
		c.Close()
		return nil, fmt.Errorf("rtsp %s: %w", where, s.failErr)
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	case <-time.After(timeout):
		c.Close()
		name := "H.264"
		if s.isH265() {
			name = "H.265"
		}
		if n := s.decErrs.Load(); n > 0 {
			// Issue 18: a camera that sends something else than it announced.
			return nil, fmt.Errorf("rtsp %s: %w: no %s keyframe within %s; %d RTP payloads were not %s (does the camera send the codec it announces?)", where, ErrStream, name, timeout, n, name)
		}
		return nil, fmt.Errorf("rtsp %s: %w: no %s keyframe within %s", where, ErrStream, name, timeout)
	}
}

// closeClient closes the client during setup. gortsplib's Close is only
// valid after Start: if setup has not started the client yet, setup closes
// it right after starting it (a camera stopped while connecting).
func (s *rtspSource) closeClient() {
	s.mu.Lock()
	started := s.started
	s.abandoned = true
	s.mu.Unlock()
	if started {
		s.client.Close()
	}
}

func (s *rtspSource) isH265() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h265
}

func (s *rtspSource) setup(bu *base.URL) error {
	c := s.client
	if err := c.Start(bu.Scheme, bu.Host); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	s.mu.Lock()
	s.started = true
	abandoned := s.abandoned
	s.mu.Unlock()
	if abandoned {
		c.Close()
		return errors.New("closed while connecting")
	}
	desc, _, err := c.Describe(bu)
	if err != nil {
		var bad liberrors.ErrClientBadStatusCode
		if errors.As(err, &bad) {
			switch bad.Code {
			case base.StatusUnauthorized:
				return fmt.Errorf("wrong credentials (401 Unauthorized)")
			case base.StatusNotFound:
				return fmt.Errorf("no such stream (404 Not Found)")
			}
		}
		return fmt.Errorf("describe: %w", err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		var forma265 *format.H265
		if medi265 := desc.FindFormat(&forma265); medi265 != nil {
			return s.setupH265(desc.BaseURL, medi265, forma265)
		}
		var codecs []string
		for _, m := range desc.Medias {
			for _, f := range m.Formats {
				codecs = append(codecs, f.Codec())
			}
		}
		return fmt.Errorf("%w: camera offers %s; edgerec records H.264 or H.265", ErrCodecNotSupported, strings.Join(codecs, ", "))
	}
	if len(forma.SPS) > 0 {
		if err := s.setSPS(forma.SPS); err != nil {
			return err
		}
		s.pps = append([]byte(nil), forma.PPS...)
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStream, err)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		// Every packet goes through the time decoder: it starts its clock
		// at the first packet of an IDR, which is not the packet that
		// completes the access unit.
		pts, ptsOK := c.PacketPTS2(medi, pkt)
		nalus, err := dec.Decode(pkt)
		if err != nil {
			if !errors.Is(err, rtph264.ErrMorePacketsNeeded) && !errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
				s.lostPacket()
			}
			return
		}
		if !ptsOK {
			return
		}
		if err := s.handleAU(nalus, pts); err != nil {
			s.fail(err)
			go c.Close() // not from the reader goroutine: Close waits for it
		}
	})
	return s.play()
}

// lostPacket counts a broken RTP payload: the picture chain is broken up
// to the next keyframe.
func (s *rtspSource) lostPacket() {
	s.decErrs.Add(1)
	s.mu.Lock()
	s.needKey = true
	s.mu.Unlock()
}

func (s *rtspSource) play() error {
	if _, err := s.client.Play(nil); err != nil {
		return fmt.Errorf("play: %w", err)
	}
	return nil
}

func (s *rtspSource) setSPS(sps []byte) error {
	var p h264.SPS
	if err := p.Unmarshal(sps); err != nil {
		return fmt.Errorf("%w: unreadable SPS: %v", ErrStream, err)
	}
	w, h := p.Width(), p.Height()
	if w <= 0 || h <= 0 || w > MaxWidth || h > MaxHeight {
		return fmt.Errorf("%w: SPS says %dx%d (limit %dx%d)", ErrStream, w, h, MaxWidth, MaxHeight)
	}
	s.sps = append(s.sps[:0], sps...)
	s.info.Width, s.info.Height = w, h
	if fps := p.FPS(); fps > 0 && fps <= 120 {
		s.info.FPS, s.fpsSet = fps, true
	}
	return nil
}

// handleAU runs on gortsplib's reader goroutine.
func (s *rtspSource) handleAU(nalus [][]byte, pts int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	idr, hasSPS, hasPPS := false, false, false
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if err := checkH264NALU(n); err != nil {
			return err
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			hasSPS = true
			if string(n) != string(s.sps) {
				if err := s.setSPS(n); err != nil {
					return err
				}
			}
		case h264.NALUTypePPS:
			hasPPS = true
			s.pps = append(s.pps[:0], n...)
		case h264.NALUTypeIDR:
			idr = true
		}
	}
	if idr {
		if len(s.sps) == 0 || len(s.pps) == 0 {
			return nil // cannot start without parameter sets
		}
		s.needKey = false
	}
	var params [][]byte
	if idr && (!hasSPS || !hasPPS) {
		params = [][]byte{s.sps, s.pps}
	}
	return s.emit(nalus, params, pts, idr, "")
}

// emit queues one access unit (under mu): params are parameter sets to
// put in front of a keyframe that lacks them in band.
func (s *rtspSource) emit(nalus, params [][]byte, pts int64, idr bool, codecName string) error {
	if !s.seenKey && !idr {
		return nil
	}
	if s.needKey {
		s.dropped.Add(1) // the rest of a GOP after a drop is lost too (issue 14)
		return nil
	}
	size := 0
	for _, n := range nalus {
		size += 4 + len(n)
	}
	for _, n := range params {
		size += 4 + len(n)
	}
	buf := make([]byte, 0, size)
	for _, n := range params {
		buf = append(append(buf, 0, 0, 0, 1), n...)
	}
	for _, n := range nalus {
		if len(n) > 0 {
			buf = append(append(buf, 0, 0, 0, 1), n...)
		}
	}
	now := s.now()
	if !s.seenKey {
		s.anchor, s.pts0 = now, pts
	} else if !s.fpsSet && pts > s.lastPTS {
		// No timing in the SPS: measure the spacing of two pictures.
		if fps := 90000 / float64(pts-s.lastPTS); fps >= 1 && fps <= 120 {
			s.info.FPS = fps
		}
		s.fpsSet = true
	}
	wall := s.anchor.Add(time.Duration(pts-s.pts0) * time.Second / 90000)
	if d := wall.Sub(now); d > 2*time.Second || d < -2*time.Second {
		s.anchor, s.pts0 = now, pts // re-anchor after drift or a pause
		wall = now
	}
	s.lastPTS = pts
	au := media.AccessUnit{Data: buf, PTS: time.Duration(pts-s.pts0) * time.Second / 90000, Wall: wall, Key: idr, Codec: codecName}
	if s.queued.Add(int64(len(buf))) > MaxQueueBytes {
		s.queued.Add(-int64(len(buf)))
		s.dropped.Add(1)
		s.needKey = true
		return nil
	}
	select {
	case s.aus <- au:
	default:
		s.queued.Add(-int64(len(buf)))
		s.dropped.Add(1)
		s.needKey = true
		return nil
	}
	if idr && !s.seenKey {
		s.seenKey = true
		s.keyOnce.Do(func() { close(s.firstKey) })
	}
	return nil
}

func (s *rtspSource) fail(err error) {
	s.failOnce.Do(func() {
		if err == nil {
			err = errors.New("stream ended")
		}
		s.failErr = err
		close(s.failed)
	})
}

func (s *rtspSource) Info() media.StreamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Dropped is the number of access units lost because the pipeline fell
// behind; DecodeErrors counts broken RTP payloads.
func (s *rtspSource) Dropped() uint64      { return s.dropped.Load() }
func (s *rtspSource) DecodeErrors() uint64 { return s.decErrs.Load() }

func (s *rtspSource) ReadAU(ctx context.Context) (media.AccessUnit, error) {
	select {
	case au := <-s.aus:
		s.queued.Add(-int64(len(au.Data)))
		return au, nil
	default:
	}
	select {
	case au := <-s.aus:
		s.queued.Add(-int64(len(au.Data)))
		return au, nil
	case <-s.failed:
		return media.AccessUnit{}, fmt.Errorf("camera stream ended: %w", s.failErr)
	case <-ctx.Done():
		return media.AccessUnit{}, ctx.Err()
	}
}

func (s *rtspSource) Close() error {
	s.client.Close()
	return nil
}
