package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/edgerec/edgerec/edge/codec"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
)

// SelfTestConfig is what `edgerec selftest` runs.
type SelfTestConfig struct {
	Source string      // default test://pattern?width=1280&height=720&fps=15
	Frames int         // default 150
	Masks  []mask.Mask // required: the masks to burn in and verify
	Open   Opener      // nil = source.Open
	Check  MaskCheck
}

// SelfTestReport is what selftest measured.
type SelfTestReport struct {
	Source      string
	Width       int
	Height      int
	Frames      int           // captured and masked
	Encoded     int           // access units out of the encoder
	Keyframes   int           // IDR access units
	Decoded     int           // pictures decoded back
	Bytes       int64         // coded bytes
	Elapsed     time.Duration // capture + mask + encode (decode excluded)
	FPS         float64       // frames per second of capture + mask + encode
	MaskFailure string        // first failing mask check, "" if all passed
	Worst       []MaskResult  // worst result per mask over all pictures
	MinOutside  float64       // smallest luma std-dev outside masks
	SourceFPS   float64       // the source's nominal frame rate
}

// OK reports whether everything passed.
func (r SelfTestReport) OK() bool {
	return r.MaskFailure == "" && r.Frames > 0 && r.Decoded > 0 && r.Keyframes > 0
}

// String is the human summary printed by `edgerec selftest`.
func (r SelfTestReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "source        %s (%dx%d)\n", source.Redact(r.Source), r.Width, r.Height)
	fmt.Fprintf(&b, "codec         %s\n", codec.Name)
	fmt.Fprintf(&b, "frames        %d captured+masked, %d encoded (%d keyframes), %d decoded back\n", r.Frames, r.Encoded, r.Keyframes, r.Decoded)
	fmt.Fprintf(&b, "speed         %.1f fps capture+mask+encode (%s)\n", r.FPS, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "bytes         %d coded (%.0f kbit/s at the source rate)\n", r.Bytes, r.kbps())
	for _, m := range r.Worst {
		status := "ok"
		if !m.OK {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "mask          %-4s %s\n", status, m.Description)
	}
	fmt.Fprintf(&b, "unmasked area luma std-dev >= %.1f (a live picture, not uniform)\n", r.MinOutside)
	if r.OK() {
		b.WriteString("result        PASS: masked pixels read back uniform\n")
	} else {
		fmt.Fprintf(&b, "result        FAIL: %s\n", r.MaskFailure)
	}
	return b.String()
}

func (r SelfTestReport) kbps() float64 {
	if r.Frames == 0 || r.SourceFPS <= 0 {
		return 0
	}
	return float64(r.Bytes) * 8 / 1000 / (float64(r.Frames) / r.SourceFPS)
}

// SelfTest captures, masks, encodes and decodes back Frames pictures and
// checks the masks in every decoded picture.
func SelfTest(ctx context.Context, cfg SelfTestConfig) (SelfTestReport, error) {
	if cfg.Source == "" {
		cfg.Source = "test://pattern?width=1280&height=720&fps=15"
	}
	if cfg.Frames <= 0 {
		cfg.Frames = 150
	}
	if len(cfg.Masks) == 0 {
		return SelfTestReport{Source: cfg.Source}, fmt.Errorf("selftest: no masks to verify")
	}
	if cfg.Open == nil {
		cfg.Open = source.Open
	}
	rep := SelfTestReport{Source: cfg.Source, MinOutside: -1}
	src, err := cfg.Open(ctx, cfg.Source, source.Options{Unpaced: true})
	if err != nil {
		return rep, fmt.Errorf("selftest: %w", err)
	}
	defer src.Close()
	read, closeRead, err := frameReader(src)
	if err != nil {
		return rep, fmt.Errorf("selftest: %w", err)
	}
	defer closeRead()
	info := src.Info()
	rep.Width, rep.Height, rep.SourceFPS = info.Width, info.Height, info.FPS
	masker, err := mask.New(cfg.Masks, mask.Options{})
	if err != nil {
		return rep, fmt.Errorf("selftest: %w", err)
	}
	enc, err := codec.NewEncoder(codec.EncoderConfig{Width: info.Width, Height: info.Height, FPS: info.FPS})
	if err != nil {
		return rep, fmt.Errorf("selftest: %w", err)
	}
	defer enc.Close()
	dec, err := codec.NewDecoder()
	if err != nil {
		return rep, fmt.Errorf("selftest: %w", err)
	}
	defer dec.Close()

	worst := make([]MaskResult, len(cfg.Masks))
	for i := range worst {
		worst[i].OK = true
	}
	check := func(r PictureResult) {
		for i, m := range r.Masks {
			if !m.OK || m.WorstDelta >= worst[i].WorstDelta || m.WorstGrad >= worst[i].WorstGrad || worst[i].Description == "" {
				if worst[i].OK || !m.OK {
					worst[i] = m
				}
			}
		}
		if rep.MinOutside < 0 || r.OutsideStdDev < rep.MinOutside {
			rep.MinOutside = r.OutsideStdDev
		}
		if !r.OK && rep.MaskFailure == "" {
			for _, m := range r.Masks {
				if !m.OK {
					rep.MaskFailure = fmt.Sprintf("picture %d: %s", rep.Decoded, m.Description)
					return
				}
			}
			rep.MaskFailure = fmt.Sprintf("picture %d: unmasked area is uniform (luma std-dev %.1f): frozen or blank picture", rep.Decoded, r.OutsideStdDev)
		}
	}
	var encTime time.Duration
	for rep.Frames < cfg.Frames {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		t0 := time.Now()
		f, err := read(ctx)
		if err != nil {
			return rep, fmt.Errorf("selftest: read frame %d: %w", rep.Frames, err)
		}
		m := masker.Apply(f)
		au, ok, err := enc.Encode(m.Frame())
		encTime += time.Since(t0)
		if err != nil {
			return rep, fmt.Errorf("selftest: %w", err)
		}
		rep.Frames++
		if !ok {
			continue
		}
		rep.Encoded++
		rep.Bytes += int64(len(au.Data))
		if au.Key {
			rep.Keyframes++
		}
		pic, err := dec.Decode(au.Data)
		if err != nil {
			return rep, fmt.Errorf("selftest: decode access unit %d: %w", rep.Encoded, err)
		}
		if pic != nil {
			rep.Decoded++
			check(cfg.Check.Check(pic, cfg.Masks))
		}
	}
	if pic, err := dec.Flush(); err == nil && pic != nil {
		rep.Decoded++
		check(cfg.Check.Check(pic, cfg.Masks))
	}
	rep.Elapsed = encTime
	if encTime > 0 {
		rep.FPS = float64(rep.Frames) / encTime.Seconds()
	}
	rep.Worst = worst
	if rep.Decoded == 0 && rep.MaskFailure == "" {
		rep.MaskFailure = "no picture decoded back"
	}
	return rep, nil
}

// frameReader turns any source into a frame reader: raw sources directly,
// coded ones (RTSP) through a decoder.
func frameReader(src source.Source) (func(context.Context) (*media.Frame, error), func(), error) {
	switch s := src.(type) {
	case source.RawSource:
		return s.Read, func() {}, nil
	case source.CodedSource:
		dec, err := codec.NewDecoder()
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context) (*media.Frame, error) {
			for {
				au, err := s.ReadAU(ctx)
				if err != nil {
					return nil, err
				}
				pic, err := dec.Decode(au.Data)
				if err != nil {
					return nil, err
				}
				if pic != nil {
					pic.PTS, pic.Wall = au.PTS, au.Wall
					return pic, nil
				}
			}
		}, func() { dec.Close() }, nil
	default:
		return nil, nil, fmt.Errorf("source yields neither frames nor access units")
	}
}
