package source

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/pkg/codecs/h265"
	"github.com/pion/rtp"

	"github.com/edgerec/edgerec/edge/media"
)

// setupH265 receives an H.265 track (issue 18): passthrough only; the
// units carry Codec "h265".
func (s *rtspSource) setupH265(baseURL *base.URL, medi *description.Media, forma *format.H265) error {
	c := s.client
	s.mu.Lock()
	s.h265 = true
	s.info.Codec = media.CodecH265
	s.mu.Unlock()
	if len(forma.SPS) > 0 {
		if err := s.setSPS265(forma.SPS); err != nil {
			return err
		}
		s.vps = append([]byte(nil), forma.VPS...)
		s.pps = append([]byte(nil), forma.PPS...)
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStream, err)
	}
	if _, err := c.Setup(baseURL, medi, 0, 0); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		pts, ptsOK := c.PacketPTS2(medi, pkt)
		nalus, err := dec.Decode(pkt)
		if err != nil {
			if !errors.Is(err, rtph265.ErrMorePacketsNeeded) && !errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious) {
				s.lostPacket()
			}
			return
		}
		if !ptsOK {
			return
		}
		if err := s.handleAU265(nalus, pts); err != nil {
			s.fail(err)
			go c.Close() // not from the reader goroutine: Close waits for it
		}
	})
	return s.play()
}

func (s *rtspSource) setSPS265(sps []byte) error {
	var p h265.SPS
	if err := p.Unmarshal(sps); err != nil {
		return fmt.Errorf("%w: unreadable H.265 SPS: %v", ErrStream, err)
	}
	w, h := p.Width(), p.Height()
	if w <= 0 || h <= 0 || w > MaxWidth || h > MaxHeight {
		return fmt.Errorf("%w: H.265 SPS says %dx%d (limit %dx%d)", ErrStream, w, h, MaxWidth, MaxHeight)
	}
	s.sps = append(s.sps[:0], sps...)
	s.info.Width, s.info.Height = w, h
	if fps := p.FPS(); fps > 0 && fps <= 120 {
		s.info.FPS, s.fpsSet = fps, true
	}
	return nil
}

// IsH265Key reports whether an H.265 NAL unit type starts a picture a
// decoder can begin at: an IRAP picture (BLA, IDR, CRA; types 16–23).
func IsH265Key(t h265.NALUType) bool { return t >= 16 && t <= 23 }

// handleAU265 runs on gortsplib's reader goroutine.
func (s *rtspSource) handleAU265(nalus [][]byte, pts int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, hasVPS, hasSPS, hasPPS := false, false, false, false
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if err := checkH265NALU(n); err != nil {
			return err
		}
		switch t := h265.NALUType((n[0] >> 1) & 0x3f); {
		case t == h265.NALUType_VPS_NUT:
			hasVPS = true
			s.vps = append(s.vps[:0], n...)
		case t == h265.NALUType_SPS_NUT:
			hasSPS = true
			if !bytes.Equal(n, s.sps) {
				if err := s.setSPS265(n); err != nil {
					return err
				}
			}
		case t == h265.NALUType_PPS_NUT:
			hasPPS = true
			s.pps = append(s.pps[:0], n...)
		case IsH265Key(t):
			key = true
		}
	}
	if key {
		if len(s.vps) == 0 || len(s.sps) == 0 || len(s.pps) == 0 {
			return nil // cannot start without parameter sets
		}
		s.needKey = false
	}
	var params [][]byte
	if key && (!hasVPS || !hasSPS || !hasPPS) {
		params = [][]byte{s.vps, s.sps, s.pps}
	}
	return s.emit(nalus, params, pts, key, media.CodecH265)
}

// checkH264NALU refuses a NAL unit that cannot be H.264 from a camera: the
// forbidden bit set, or a type H.264 leaves unspecified (0, 24–31; RTP
// packetization types never survive depacketizing). A camera that
// announces H.264 and sends H.265 is named as such (issue 18: a camera
// that lies about its codec).
func checkH264NALU(n []byte) error {
	if n[0]&0x80 != 0 {
		return fmt.Errorf("%w: the camera announced H.264 but sends data that is not H.264 (NAL unit with the forbidden bit set)", ErrStream)
	}
	t := h264.NALUType(n[0] & 0x1f)
	if t != 0 && t < 24 {
		return nil
	}
	if len(n) >= 2 && n[1] == 1 {
		if ht := h265.NALUType((n[0] >> 1) & 0x3f); ht == h265.NALUType_VPS_NUT || ht == h265.NALUType_SPS_NUT || ht == h265.NALUType_PPS_NUT || IsH265Key(ht) || ht < 10 {
			return fmt.Errorf("%w: the camera announced H.264 (SDP) but sends H.265 (%s NAL unit): set the camera's stream to H.264, or fix its RTSP description", ErrStream, ht)
		}
	}
	return fmt.Errorf("%w: the camera announced H.264 but sends data that is not H.264 (NAL unit type %d)", ErrStream, t)
}

// checkH265NALU refuses a NAL unit that cannot be H.265 from a camera:
// the forbidden bit set, a reserved or unspecified type (41–63), or a
// temporal id of zero (nuh_temporal_id_plus1 = 0 is forbidden).
func checkH265NALU(n []byte) error {
	if len(n) < 2 {
		return fmt.Errorf("%w: the camera announced H.265 but sends a NAL unit of %d byte(s)", ErrStream, len(n))
	}
	t := (n[0] >> 1) & 0x3f
	if n[0]&0x80 != 0 || t >= 41 || n[1]&0x07 == 0 {
		return fmt.Errorf("%w: the camera announced H.265 but sends data that is not H.265 (NAL header %02x %02x)", ErrStream, n[0], n[1])
	}
	return nil
}
