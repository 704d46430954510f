package source

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/pkg/codecs/h265"
	"github.com/pion/rtp"

	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source/rtsprig"
)

// TestRTSPH265Receive (issue 18): an ffmpeg camera publishing H.265 is
// accepted; units say "h265", the first is an IRAP keyframe with VPS, SPS
// and PPS in band, and the size comes from the H.265 SPS.
func TestRTSPH265Receive(t *testing.T) {
	srv := startRig(t, "", "")
	publish(t, srv, "cam", rtsprig.FFmpegArgsH265("640x360", 15))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := Open(ctx, srv.URL("cam")+"?transport=tcp", Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cs := src.(CodedSource)
	if info := cs.Info(); info.Codec != media.CodecH265 || info.Width != 640 || info.Height != 360 {
		t.Fatalf("info %+v", info)
	}
	keys := 0
	for i := range 45 {
		au, err := cs.ReadAU(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if au.Codec != media.CodecH265 {
			t.Fatalf("unit %d: codec %q", i, au.Codec)
		}
		nalus, err := h264.AnnexBUnmarshal(au.Data)
		if err != nil {
			t.Fatalf("unit %d: %v", i, err)
		}
		var types []h265.NALUType
		for _, n := range nalus {
			types = append(types, h265.NALUType((n[0]>>1)&0x3f))
		}
		if i == 0 && !au.Key {
			t.Fatalf("first unit not a keyframe: %v", types)
		}
		if au.Key {
			keys++
			has := map[h265.NALUType]bool{}
			for _, ty := range types {
				has[ty] = true
			}
			if !has[h265.NALUType_VPS_NUT] || !has[h265.NALUType_SPS_NUT] || !has[h265.NALUType_PPS_NUT] {
				t.Fatalf("keyframe without parameter sets: %v", types)
			}
		}
	}
	if keys < 2 {
		t.Fatalf("%d keyframes in 45 units at GOP 30", keys)
	}
}

// hevcNALUs encodes a few seconds of H.265 with ffmpeg and returns its
// access units (split at each VCL NAL unit; parameter sets and SEI go
// with the next picture).
func hevcNALUs(t *testing.T) [][][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "x.hevc")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "lavfi",
		"-i", "testsrc2=size=320x240:rate=15", "-t", "3", "-c:v", "libx265", "-preset", "ultrafast",
		"-x265-params", "bframes=0:keyint=15:log-level=error", "-f", "hevc", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	nalus, err := h264.AnnexBUnmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	var aus [][][]byte
	var cur [][]byte
	for _, n := range nalus {
		cur = append(cur, n)
		if (n[0]>>1)&0x3f < 32 { // a VCL NAL unit ends the picture (one slice each)
			aus = append(aus, cur)
			cur = nil
		}
	}
	return aus
}

// publishLying announces H.264 (with valid H.264 parameter sets in the
// SDP) and then sends the given access units as H.264 RTP packets.
func publishLying(t *testing.T, srv *rtsprig.Server, path string, aus [][][]byte) {
	t.Helper()
	sps, pps := paramSets(t)
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	c := &gortsplib.Client{}
	if err := c.StartRecording("rtsp://"+srv.Addr()+"/"+path, &description.Session{Medias: []*description.Media{medi}}); err != nil {
		t.Fatal(err)
	}
	enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / 15)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			pkts, err := enc.Encode(aus[i%len(aus)])
			if err != nil {
				return
			}
			for _, p := range pkts {
				p.Timestamp = uint32(i * 6000)
				if c.WritePacketRTP(medi, p) != nil {
					return
				}
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Publishing(path) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRTSPCodecLie (issue 18, bad input, written before the check): a
// camera whose SDP says H.264 but that sends H.265 NAL units, or garbage,
// is refused with one clear error; no unit comes out of the source.
func TestRTSPCodecLie(t *testing.T) {
	srv := startRig(t, "", "")
	publishLying(t, srv, "h265", hevcNALUs(t))
	junk := func(first byte) [][][]byte {
		aus := make([][][]byte, 30)
		for i := range aus {
			aus[i] = [][]byte{append([]byte{first}, bytes.Repeat([]byte{0x13, 0x37, 0x00, 0x42}, 40)...)}
		}
		return aus
	}
	publishLying(t, srv, "junk", junk(0x85)) // forbidden bit set

	for _, c := range []struct{ path, want string }{
		{"h265", "announced H.264 (SDP) but sends H.265"},
		{"junk", "announced H.264 but sends data that is not H.264"},
	} {
		t.Run(c.path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			src, err := Open(ctx, srv.URL(c.path)+"?transport=tcp", Options{Timeout: 5 * time.Second})
			if err == nil {
				defer src.Close()
				au, rerr := src.(CodedSource).ReadAU(ctx)
				t.Fatalf("opened; first unit key=%v %d bytes, err %v", au.Key, len(au.Data), rerr)
			}
			if !errors.Is(err, ErrStream) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q: want ErrStream with %q", err, c.want)
			}
		})
	}
}

// FuzzRTPH265 (issue 18): arbitrary RTP payloads through the H.265
// depacketizer and handleAU265: either ErrStream or units with start
// codes, keyframes with VPS/SPS/PPS, a size within the limits; no panic.
func FuzzRTPH265(f *testing.F) {
	// VPS, SPS (320x240 from x265), PPS and an IDR slice header.
	f.Add([]byte{0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x95, 0x94, 0x09},
		[]byte{0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0xa0, 0x0a, 0x08, 0x0f, 0x16, 0x59, 0x59, 0x52, 0x93, 0x0b, 0xc0, 0x5a, 0x02, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x10},
		[]byte{0x26, 0x01, 0xaf, 0x09, 0x40})
	f.Add([]byte{0x62, 0x01, 0x93, 0xaf}, []byte{0x62, 0x01, 0x53, 0x00}, []byte{0x60, 0x01, 0x00, 0x04, 0x40, 0x01, 0x0c, 0x01})
	f.Add([]byte{}, []byte{0x00}, []byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, p1, p2, p3 []byte) {
		dec := &rtph265.Decoder{}
		if err := dec.Init(); err != nil {
			t.Fatal(err)
		}
		s := &rtspSource{now: time.Now, aus: make(chan media.AccessUnit, 16), firstKey: make(chan struct{}), failed: make(chan struct{}), h265: true}
		for i, pl := range [][]byte{p1, p2, p3} {
			pkt := &rtp.Packet{Header: rtp.Header{Marker: true, SequenceNumber: uint16(i), Timestamp: uint32(i * 6000)}, Payload: pl}
			nalus, err := dec.Decode(pkt)
			if err != nil {
				continue
			}
			if err := s.handleAU265(nalus, int64(i*6000)); err != nil {
				if !errors.Is(err, ErrStream) {
					t.Fatalf("unexpected error kind: %v", err)
				}
			}
		}
		close(s.aus)
		for au := range s.aus {
			if au.Codec != media.CodecH265 || len(au.Data) < 5 || !bytes.HasPrefix(au.Data, []byte{0, 0, 0, 1}) {
				t.Fatalf("unit %q %x", au.Codec, au.Data)
			}
			if au.Key {
				nalus, err := h264.AnnexBUnmarshal(au.Data)
				if err != nil {
					t.Fatal(err)
				}
				has := map[h265.NALUType]bool{}
				for _, n := range nalus {
					has[h265.NALUType((n[0]>>1)&0x3f)] = true
				}
				if !has[h265.NALUType_VPS_NUT] || !has[h265.NALUType_SPS_NUT] || !has[h265.NALUType_PPS_NUT] {
					t.Fatalf("keyframe without parameter sets: %x", au.Data)
				}
			}
		}
		if w, h := s.info.Width, s.info.Height; w > MaxWidth || h > MaxHeight {
			t.Fatalf("accepted %dx%d", w, h)
		}
	})
}
