package fmp4

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/pkg/codecs/h265"
	mcfmp4 "github.com/bluenviron/mediacommon/pkg/formats/fmp4"
)

// IsH265 reports whether an access unit is H.265 (issue 18): it holds an
// H.265 parameter set (VPS, SPS or PPS: header bytes 0x40/0x42/0x44 then
// 0x01), which no H.264 unit edgerec stores has (H.264 types 0, 2 and 4
// with those bytes are refused or never sent by the source). Non-key
// units have none; the muxer keeps the codec of the first keyframe.
func IsH265(au [][]byte) bool {
	for _, n := range au {
		if len(n) >= 2 && n[1] == 0x01 && (n[0] == 0x40 || n[0] == 0x42 || n[0] == 0x44) {
			return true
		}
	}
	return false
}

func hasH264SPS(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			return true
		}
	}
	return false
}

// writeFrame265 is WriteFrame for H.265: an IRAP picture (types 16–23) is
// a keyframe; VPS, SPS and PPS make the init segment (hvc1 + hvcC).
func (m *Muxer) writeFrame265(t time.Time, key bool, au [][]byte) error {
	nalus := au[:0]
	var vps, sps, pps []byte
	for _, n := range au {
		if len(n) < 2 {
			continue
		}
		switch typ := h265.NALUType((n[0] >> 1) & 0x3f); {
		case typ == h265.NALUType_AUD_NUT:
			continue
		case typ == h265.NALUType_VPS_NUT:
			vps = n
		case typ == h265.NALUType_SPS_NUT:
			sps = n
		case typ == h265.NALUType_PPS_NUT:
			pps = n
		case typ >= 16 && typ <= 23:
			key = true
		}
		nalus = append(nalus, n)
	}
	params := key && vps != nil && sps != nil && pps != nil
	return m.add(t, key, params, nalus, func() error { return m.writeInit265(vps, sps, pps) },
		func() bool { return !bytes.Equal(vps, m.vps) || !bytes.Equal(sps, m.sps) || !bytes.Equal(pps, m.pps) })
}

func (m *Muxer) writeInit265(vps, sps, pps []byte) error {
	var s h265.SPS
	if err := s.Unmarshal(sps); err != nil {
		return fmt.Errorf("%w: H.265 SPS: %v", ErrBadStream, err)
	}
	if len(sps) < 15 {
		return fmt.Errorf("%w: H.265 SPS of %d bytes", ErrBadStream, len(sps))
	}
	m.vps, m.sps, m.pps = bytes.Clone(vps), bytes.Clone(sps), bytes.Clone(pps)
	tr := Track{VPS: m.vps, SPS: m.sps, PPS: m.pps, H265: true, Width: s.Width(), Height: s.Height(),
		Codec: hevcCodecString(&s, sps)}
	if !m.st.Started {
		if m.cfg.OnInit != nil {
			if err := m.cfg.OnInit(tr); err != nil {
				return err
			}
		}
		m.st.Track = tr
		m.st.Started = true
	}
	init := mcfmp4.Init{Tracks: []*mcfmp4.InitTrack{{ID: 1, TimeScale: Timescale,
		Codec: &mcfmp4.CodecH265{VPS: m.vps, SPS: m.sps, PPS: m.pps}}}}
	m.buf.Reset()
	if err := init.Marshal(&m.buf); err != nil {
		return fmt.Errorf("fmp4: init segment: %w", err)
	}
	b := m.buf.Bytes()
	// mediacommon writes the sample entry as hev1; edgerec writes hvc1
	// (the parameter sets are in hvcC; players such as Safari/QuickTime
	// want hvc1, ffmpeg plays both). The box layout is the same.
	if i := bytes.Index(b, []byte("hev1")); i >= 0 {
		copy(b[i:], "hvc1")
	}
	if _, err := m.w.Write(b); err != nil {
		return err
	}
	m.st.Inits++
	return nil
}

// hevcCodecString is the RFC 6381 / ISO 14496-15 codecs string, e.g.
// "hvc1.1.6.L93.B0".
func hevcCodecString(s *h265.SPS, sps []byte) string {
	ptl := s.ProfileTierLevel
	var compat uint32
	for i, f := range ptl.GeneralProfileCompatibilityFlag {
		if f {
			compat |= 1 << i // bit-reversed order of the flags
		}
	}
	var b strings.Builder
	b.WriteString("hvc1.")
	if ptl.GeneralProfileSpace > 0 {
		b.WriteByte("ABC"[ptl.GeneralProfileSpace-1])
	}
	tier := "L"
	if ptl.GeneralTierFlag != 0 {
		tier = "H"
	}
	fmt.Fprintf(&b, "%d.%X.%s%d", ptl.GeneralProfileIdc, compat, tier, ptl.GeneralLevelIdc)
	raw := h264.EmulationPreventionRemove(sps)
	if len(raw) < 15 {
		return fmt.Sprintf("hvc1.%d", ptl.GeneralProfileIdc)
	}
	cons := raw[8:14] // general_constraint_indicator_flags (6 bytes, after header, vps id byte, profile byte, 4 compat bytes)
	last := len(cons)
	for last > 0 && cons[last-1] == 0 {
		last--
	}
	for _, c := range cons[:last] {
		fmt.Fprintf(&b, ".%X", c)
	}
	return b.String()
}
