package codec

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sync"
	"time"

	mdcodec "github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/openh264"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
)

// Name is the codec implementation compiled into this binary.
const Name = "openh264 2.1.1 (static, software)"

// ErrEncode reports an encoder failure.
var ErrEncode = errors.New("codec: h264 encode failed")

// EncoderConfig sets up an encoder for one camera.
type EncoderConfig struct {
	Width, Height    int
	FPS              float64
	BitrateKbps      int           // default 1500
	KeyframeInterval time.Duration // default 2 s
	// Threads is openh264's thread count; 0 lets it choose, 1 pins it to
	// one core.
	Threads int
}

func (c EncoderConfig) withDefaults() (EncoderConfig, error) {
	if c.Width <= 0 || c.Height <= 0 || c.Width%2 != 0 || c.Height%2 != 0 {
		return c, fmt.Errorf("%w: size %dx%d must be positive and even", ErrEncode, c.Width, c.Height)
	}
	if c.FPS <= 0 || c.FPS > 120 || math.IsNaN(c.FPS) {
		return c, fmt.Errorf("%w: fps %v outside (0, 120]", ErrEncode, c.FPS)
	}
	if c.BitrateKbps == 0 {
		c.BitrateKbps = 1500
	}
	if c.KeyframeInterval == 0 {
		c.KeyframeInterval = 2 * time.Second
	}
	return c, nil
}

// Encoder turns masked I420 frames into H.264 access units (Annex-B, IDR
// with SPS/PPS in band every KeyframeInterval). Not safe for concurrent use.
type Encoder struct {
	mu   sync.Mutex
	cfg  EncoderConfig
	rc   mdcodec.ReadCloser
	cur  *media.Frame
	gop  int
	n    int
	info media.StreamInfo
}

// NewEncoder creates an openh264 encoder.
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p, err := openh264.NewParams()
	if err != nil {
		return nil, fmt.Errorf("%w: params: %w", ErrEncode, err)
	}
	gop := int(math.Round(cfg.KeyframeInterval.Seconds() * cfg.FPS))
	if gop < 1 {
		gop = 1
	}
	p.BitRate = cfg.BitrateKbps * 1000
	p.IntraPeriod = uint(gop)
	p.EnableFrameSkip = false // a recorder keeps every frame
	p.MultipleThreadIdc = cfg.Threads
	p.SliceMode = openh264.SMSingleSlice
	p.SliceNum = 1
	e := &Encoder{cfg: cfg, gop: gop, info: media.StreamInfo{Codec: "h264", Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS}}
	reader := videoReader(func() (image.Image, func(), error) {
		return e.cur.YCbCr(), func() {}, nil
	})
	rc, err := p.BuildVideoEncoder(reader, prop.Media{Video: prop.Video{Width: cfg.Width, Height: cfg.Height, FrameRate: float32(cfg.FPS)}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	e.rc = rc
	return e, nil
}

// Info describes the stream this encoder produces.
func (e *Encoder) Info() media.StreamInfo { return e.info }

// Encode encodes one masked picture. It returns ok=false when the encoder
// produced no output for this picture.
func (e *Encoder) Encode(m mask.Masked) (au media.AccessUnit, ok bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := m.Frame()
	if f == nil {
		return au, false, fmt.Errorf("%w: empty masked picture", ErrEncode)
	}
	if f.Width != e.cfg.Width || f.Height != e.cfg.Height {
		return au, false, fmt.Errorf("%w: picture %dx%d, encoder set up for %dx%d", ErrEncode, f.Width, f.Height, e.cfg.Width, e.cfg.Height)
	}
	if e.rc == nil {
		return au, false, fmt.Errorf("%w: encoder closed", ErrEncode)
	}
	e.cur = f
	data, release, err := e.rc.Read()
	e.cur = nil
	if err != nil {
		return au, false, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	release()
	e.n++
	if len(data) == 0 {
		return au, false, nil
	}
	return media.AccessUnit{Data: data, PTS: f.PTS, Wall: f.Wall, Key: IsKeyframe(data)}, true, nil
}

// ForceKeyframe makes the next picture an IDR.
func (e *Encoder) ForceKeyframe() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rc != nil {
		if c, ok := e.rc.Controller().(mdcodec.KeyFrameController); ok {
			_ = c.ForceKeyFrame()
		}
	}
}

// Close releases the encoder.
func (e *Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rc == nil {
		return nil
	}
	err := e.rc.Close()
	e.rc = nil
	if err != nil {
		return fmt.Errorf("%w: close: %w", ErrEncode, err)
	}
	return nil
}

type videoReader func() (image.Image, func(), error)

func (r videoReader) Read() (image.Image, func(), error) { return r() }
