package fmp4

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
	mcfmp4 "github.com/bluenviron/mediacommon/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/pkg/formats/fmp4/seekablebuffer"
)

// Timescale of the video track (ticks per second).
const Timescale = 90000

// MaxFragmentFrames caps the frames of one fragment (a GOP is one fragment
// unless it is longer).
const MaxFragmentFrames = 300

// defaultDur is the duration of a lone last frame (one frame at 15 fps).
const defaultDur = Timescale / 15

// ErrBadStream: an access unit is not valid Annex-B H.264, or its
// parameter sets do not parse.
var ErrBadStream = errors.New("stored stream cannot be exported")

// Ticks converts a duration to 90 kHz ticks, rounded half up (without
// overflow for any realistic range).
func Ticks(d time.Duration) int64 {
	return (int64(d)*9 + 50_000) / 100_000
}

// Config shapes one muxed stream.
type Config struct {
	// Origin is time zero of the track; zero: the first frame written.
	Origin time.Time
	// End clips the last frame's duration (zero: no clip).
	End time.Time
	// NewInitOnChange writes a new init segment when a keyframe carries
	// other SPS/PPS than the current init segment (a stream for MSE). A
	// file keeps its one init segment (false).
	NewInitOnChange bool
	// OnInit, if set, is called before the first init segment is written
	// (playback sets its HTTP headers there); an error stops the muxer.
	OnInit func(Track) error
	// OnFragment, if set, is called after each fragment with the end of
	// the media written, from Origin.
	OnFragment func(end time.Duration)
}

// Track describes the video of an init segment.
type Track struct {
	SPS, PPS      []byte
	VPS           []byte // H.265 only
	H265          bool   // the track is H.265 (hvc1), else H.264 (avc1)
	Width, Height int
	Codec         string // RFC 6381, e.g. "avc1.42c01e"
}

// Stats describes what was written.
type Stats struct {
	Started    bool      // the init segment was written
	Track      Track     // of the first init segment
	Start, End time.Time // first frame; end of the last sample (after Close)
	Frames     int
	Keyframes  int
	Fragments  int
	Inits      int // init segments written
}

type sample struct {
	dts int64 // ticks from Origin
	key bool
	au  [][]byte
}

// Muxer writes one fMP4 stream. Not safe for concurrent use.
type Muxer struct {
	w   io.Writer
	cfg Config

	st       Stats
	origin   time.Time
	sps, pps []byte
	vps      []byte
	h265     bool // decided by the first keyframe (issue 18)
	pend     []sample
	seq      uint32
	lastDTS  int64
	lastDur  int64
	buf      seekablebuffer.Buffer
	closed   bool
}

// New returns a muxer writing to w.
func New(w io.Writer, cfg Config) *Muxer {
	return &Muxer{w: w, cfg: cfg, origin: cfg.Origin}
}

// Stats returns what has been written so far.
func (m *Muxer) Stats() Stats { return m.st }

// WriteFrame adds one access unit (Annex-B) at time t; key marks a
// keyframe (an IDR NAL unit marks one too).
func (m *Muxer) WriteFrame(t time.Time, key bool, data []byte) error {
	if m.closed {
		return errors.New("fmp4: write after Close")
	}
	var au h264.AnnexB
	if err := au.Unmarshal(data); err != nil {
		return fmt.Errorf("%w: frame at %s: %v", ErrBadStream, t.UTC().Format(time.RFC3339Nano), err)
	}
	isH265 := IsH265(au)
	if !m.st.Started {
		m.h265 = isH265
	}
	if m.h265 || isH265 {
		if isH265 != m.h265 && len(au) > 0 && (isH265 || hasH264SPS(au)) {
			return fmt.Errorf("%w: frame at %s: the codec changed between H.264 and H.265 (one file holds one codec: export the two parts separately)", ErrBadStream, t.UTC().Format(time.RFC3339Nano))
		}
		return m.writeFrame265(t, key, au)
	}
	nalus := au[:0]
	var sps, pps []byte
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeAccessUnitDelimiter:
			continue
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		case h264.NALUTypeIDR:
			key = true
		}
		nalus = append(nalus, n)
	}
	params := key && sps != nil && pps != nil
	return m.add(t, key, params, nalus, func() error { return m.writeInit(sps, pps) },
		func() bool { return !bytes.Equal(sps, m.sps) || !bytes.Equal(pps, m.pps) })
}

// add queues one sample; init writes an init segment from the unit's
// parameter sets (params: it has them), changed says they differ from
// the current init segment's.
func (m *Muxer) add(t time.Time, key, params bool, nalus [][]byte, init func() error, changed func() bool) error {
	if !m.st.Started {
		if !params {
			return nil // wait for a keyframe with parameter sets
		}
		if m.origin.IsZero() {
			m.origin = t
		}
		m.st.Start = t
	}
	dts := max(Ticks(t.Sub(m.origin)), 0)
	if m.st.Frames > 0 && dts <= m.lastDTS { // clock stepped back or duplicate time: keep the order
		dts = m.lastDTS + 1
	}
	if key && len(m.pend) > 0 || len(m.pend) >= MaxFragmentFrames {
		if err := m.flush(dts); err != nil {
			return err
		}
	}
	if !m.st.Started || params && m.cfg.NewInitOnChange && changed() {
		if err := init(); err != nil {
			return err
		}
	}
	if len(m.pend) > 0 {
		m.lastDur = dts - m.pend[len(m.pend)-1].dts
	}
	m.pend = append(m.pend, sample{dts: dts, key: key, au: nalus})
	m.lastDTS = dts
	m.st.Frames++
	if key {
		m.st.Keyframes++
	}
	return nil
}

func (m *Muxer) writeInit(sps, pps []byte) error {
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return fmt.Errorf("%w: SPS: %v", ErrBadStream, err)
	}
	if len(sps) < 4 {
		return fmt.Errorf("%w: SPS of %d bytes", ErrBadStream, len(sps))
	}
	m.sps, m.pps = bytes.Clone(sps), bytes.Clone(pps)
	tr := Track{SPS: m.sps, PPS: m.pps, Width: s.Width(), Height: s.Height(),
		Codec: fmt.Sprintf("avc1.%02x%02x%02x", sps[1], sps[2], sps[3])}
	if !m.st.Started {
		if m.cfg.OnInit != nil {
			if err := m.cfg.OnInit(tr); err != nil {
				return err
			}
		}
		m.st.Track = tr
		m.st.Started = true
	}
	init := mcfmp4.Init{Tracks: []*mcfmp4.InitTrack{{ID: 1, TimeScale: Timescale, Codec: &mcfmp4.CodecH264{SPS: m.sps, PPS: m.pps}}}}
	m.buf.Reset()
	if err := init.Marshal(&m.buf); err != nil {
		return fmt.Errorf("fmp4: init segment: %w", err)
	}
	if _, err := m.w.Write(m.buf.Bytes()); err != nil {
		return err
	}
	m.st.Inits++
	return nil
}

// flush writes the pending samples as one fragment; next is the dts of
// the sample after them (the end of the last one).
func (m *Muxer) flush(next int64) error {
	if len(m.pend) == 0 {
		return nil
	}
	samples := make([]*mcfmp4.PartSample, len(m.pend))
	for i, s := range m.pend {
		end := next
		if i+1 < len(m.pend) {
			end = m.pend[i+1].dts
		}
		var ps *mcfmp4.PartSample
		var err error
		if m.h265 {
			ps, err = mcfmp4.NewPartSampleH265(0, s.au)
		} else {
			ps, err = mcfmp4.NewPartSampleH264(0, s.au)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadStream, err)
		}
		ps.IsNonSyncSample = !s.key
		ps.Duration = uint32(max(end-s.dts, 1))
		samples[i] = ps
	}
	m.seq++
	part := mcfmp4.Part{SequenceNumber: m.seq, Tracks: []*mcfmp4.PartTrack{{ID: 1, BaseTime: uint64(m.pend[0].dts), Samples: samples}}}
	m.buf.Reset()
	if err := part.Marshal(&m.buf); err != nil {
		return fmt.Errorf("fmp4: fragment: %w", err)
	}
	if _, err := m.w.Write(m.buf.Bytes()); err != nil {
		return err
	}
	m.st.Fragments++
	m.pend = m.pend[:0]
	if m.cfg.OnFragment != nil {
		m.cfg.OnFragment(time.Duration(next) * time.Second / Timescale)
	}
	return nil
}

// Close writes the last fragment: its last frame lasts the interval
// before it (1/15 s for a lone frame), clipped at End. It does not close
// the writer.
func (m *Muxer) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	if !m.st.Started || len(m.pend) == 0 {
		return nil
	}
	last := m.pend[len(m.pend)-1]
	dur := m.lastDur
	if dur <= 0 {
		dur = defaultDur
	}
	if !m.cfg.End.IsZero() {
		if lim := Ticks(m.cfg.End.Sub(m.origin)) - last.dts; lim > 0 && dur > lim {
			dur = lim
		}
	}
	end := last.dts + max(dur, 1)
	m.st.End = m.origin.Add(time.Duration(end) * time.Second / Timescale)
	return m.flush(end)
}

// Sample is one sample as read back from a stream (Samples).
type Sample struct {
	DTS      int64 // ticks from the track's origin
	Duration uint32
	Key      bool
	Size     int
}

// Samples reads the sample timing of every fragment in b (an fMP4 stream
// or file; init segments are skipped). For tests and checks.
func Samples(b []byte) ([]Sample, error) {
	var parts mcfmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("fmp4: read fragments: %w", err)
	}
	var out []Sample
	for _, p := range parts {
		for _, tr := range p.Tracks {
			dts := int64(tr.BaseTime)
			for _, s := range tr.Samples {
				out = append(out, Sample{DTS: dts, Duration: s.Duration, Key: !s.IsNonSyncSample, Size: len(s.Payload)})
				dts += int64(s.Duration)
			}
		}
	}
	return out, nil
}
