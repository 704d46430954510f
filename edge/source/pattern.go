package source

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/edgerec/edgerec/edge/media"
)

// pattern is the synthetic camera: a detailed background (fine checker on
// diagonal luma ramps, chroma bars) that scrolls two pixels per frame, plus
// a bright box bouncing across the picture. Every frame differs from the
// previous one, so a frozen picture is detectable, and the picture has
// detail everywhere, so masks and pixelation are measurable.
type pattern struct {
	info     media.StreamInfo
	paced    bool
	n        int64
	start    time.Time
	texY     []byte // 2*width x height
	texU     []byte // width x height/2 (2*(width/2))
	texV     []byte
	interval time.Duration
}

func openPattern(u *url.URL, o Options) (Source, error) {
	if u.Host != "pattern" {
		return nil, fmt.Errorf("%w: test://%s: only test://pattern exists", ErrBadURL, u.Host)
	}
	q := u.Query()
	w, err := intParam(q, "width", 1280, 16, 3840)
	if err != nil {
		return nil, err
	}
	h, err := intParam(q, "height", 720, 16, 2160)
	if err != nil {
		return nil, err
	}
	fps, err := intParam(q, "fps", 15, 1, 60)
	if err != nil {
		return nil, err
	}
	if w%2 != 0 || h%2 != 0 {
		return nil, fmt.Errorf("%w: test://pattern: width and height must be even, got %dx%d", ErrBadURL, w, h)
	}
	for k := range q {
		switch k {
		case "width", "height", "fps":
		default:
			return nil, fmt.Errorf("%w: test://pattern: unknown parameter %q (want width, height, fps)", ErrBadURL, k)
		}
	}
	p := &pattern{
		info:     media.StreamInfo{Codec: "raw", Width: w, Height: h, FPS: float64(fps)},
		paced:    !o.Unpaced,
		interval: time.Second / time.Duration(fps),
	}
	p.render()
	return p, nil
}

func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%w: test://pattern: %s=%q: want an integer in %d..%d", ErrBadURL, name, s, lo, hi)
	}
	return v, nil
}

func (p *pattern) render() {
	w, h := p.info.Width, p.info.Height
	tw := 2 * w
	p.texY = make([]byte, tw*h)
	for y := 0; y < h; y++ {
		for x := 0; x < tw; x++ {
			v := 40 + (x+y)%160       // diagonal ramp
			if ((x/4)+(y/4))%2 == 0 { // 4-px checker: fine detail
				v += 30
			}
			p.texY[y*tw+x] = byte(v)
		}
	}
	cw, ch := w/2, h/2
	ctw := 2 * cw
	p.texU = make([]byte, ctw*ch)
	p.texV = make([]byte, ctw*ch)
	for y := 0; y < ch; y++ {
		for x := 0; x < ctw; x++ {
			p.texU[y*ctw+x] = byte(64 + (x/20)%8*16)
			p.texV[y*ctw+x] = byte(64 + (y/12)%8*16)
		}
	}
}

func (p *pattern) Info() media.StreamInfo { return p.info }

func (p *pattern) Read(ctx context.Context) (*media.Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	if p.n == 0 {
		p.start = now
	}
	pts := time.Duration(p.n) * p.interval
	if p.paced {
		due := p.start.Add(pts)
		if d := due.Sub(now); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
	}
	f, err := media.NewFrame(p.info.Width, p.info.Height)
	if err != nil {
		return nil, err
	}
	p.draw(f, int(p.n))
	f.PTS = pts
	if p.paced {
		f.Wall = p.start.Add(pts)
	} else {
		f.Wall = time.Now()
	}
	p.n++
	return f, nil
}

func (p *pattern) draw(f *media.Frame, n int) {
	w, h := f.Width, f.Height
	tw := 2 * w
	off := (2 * n) % w // scroll two luma pixels per frame
	for y := 0; y < h; y++ {
		copy(f.Y[y*w:(y+1)*w], p.texY[y*tw+off:y*tw+off+w])
	}
	cw, ch := w/2, h/2
	coff := off / 2
	for y := 0; y < ch; y++ {
		copy(f.U[y*cw:(y+1)*cw], p.texU[y*2*cw+coff:y*2*cw+coff+cw])
		copy(f.V[y*cw:(y+1)*cw], p.texV[y*2*cw+coff:y*2*cw+coff+cw])
	}
	// A bright box bouncing diagonally.
	bs := h / 8
	bx := bounce(n*7, w-bs)
	by := bounce(n*5, h-bs)
	for y := by; y < by+bs; y++ {
		row := f.Y[y*w+bx : y*w+bx+bs]
		for i := range row {
			row[i] = 235
		}
	}
}

func bounce(v, span int) int {
	if span <= 0 {
		return 0
	}
	p := v % (2 * span)
	if p > span {
		p = 2*span - p
	}
	return p
}

func (p *pattern) Close() error { return nil }
