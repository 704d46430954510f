package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/record"
	"github.com/edgerec/edgerec/edge/source"
	"github.com/edgerec/edgerec/storage"
)

// noiseSource is a camera whose every picture is fresh noise over scrolling
// high-contrast "text" (2 px strokes, black on white), luma and chroma: the
// hardest content for an encoder next to a flat mask. It gives `frames`
// pictures at the camera's pace, with wall times 1/fps apart,
// then blocks (a camera that stops sending) and closes done.
type noiseSource struct {
	info   media.StreamInfo
	frames int
	n      int
	seed   uint32
	t0     time.Time
	done   chan struct{}
	// published receives one value per access unit the camera published;
	// Read waits for the previous picture's before it hands out the next
	// one, so a loaded test box (race detector, other tests) slows the
	// test down instead of dropping pictures as late or queue-full.
	published chan struct{}
}

func (s *noiseSource) Info() media.StreamInfo { return s.info }
func (s *noiseSource) Close() error           { return nil }

func (s *noiseSource) rnd() uint32 {
	s.seed ^= s.seed << 13
	s.seed ^= s.seed >> 17
	s.seed ^= s.seed << 5
	return s.seed
}

// glyph reports whether luma pixel (x, y) is on a stroke of the text: 8×12
// character cells, each a hashed pattern of 2 px wide strokes.
func glyph(x, y int) bool {
	cx, cy := x/8, y/12
	h := uint32(cx*7919+cy*104729) * 2654435761
	gx, gy := (x%8)/2, (y%12)/2 // 4×6 grid of 2 px dots per cell
	return h>>(uint(gx+4*gy)%32)&1 == 1
}

func (s *noiseSource) Read(ctx context.Context) (*media.Frame, error) {
	if s.n == s.frames {
		close(s.done)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	w, h := s.info.Width, s.info.Height
	f, err := media.NewFrame(w, h)
	if err != nil {
		return nil, err
	}
	shift := 3 * s.n // the text scrolls 3 px per picture
	for y := range h {
		for x := range w {
			v := 40
			if glyph(x+shift, y+s.n) {
				v = 215
			}
			f.Y[y*w+x] = byte(v - 40 + int(s.rnd()%81))
		}
	}
	for i := range f.U {
		r := s.rnd()
		f.U[i], f.V[i] = byte(r), byte(r>>8)
	}
	if s.n > 0 && s.published != nil {
		select {
		case <-s.published:
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("picture %d was not published within a minute", s.n-1)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.PTS = time.Duration(float64(s.n) * float64(time.Second) / s.info.FPS)
	f.Wall = s.t0.Add(f.PTS)
	if now := time.Now(); f.Wall.Before(now) {
		// Behind the schedule (slow box): shift the clock, keep the pace.
		s.t0 = s.t0.Add(now.Sub(f.Wall))
		f.Wall = now
	}
	// A real camera's pace: a source faster than the encoder would fill
	// the pipeline's queue and have pictures dropped (counted, a gap).
	select {
	case <-time.After(time.Until(f.Wall)):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.n++
	return f, nil
}

// recordMaskedNoise runs a masked camera on noise through the real masked
// path (Camera: mask → openh264 encode → hub → Recorder → storage), reads the
// recorded access units back and decodes them with ffmpeg (not the
// project's decoder). It returns the decoded I420 pictures.
func recordMaskedNoise(t *testing.T, w, h int, fps float64, kbps, frames int, masks []mask.Mask) [][]byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg not installed: run scripts/deps.sh")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(ctx, dir, storage.Options{FlushInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Wall times from now on: a picture older than pipeline.MaxLate when
	// it is captured would be dropped as late.
	t0 := time.Now().Add(200 * time.Millisecond)
	src := &noiseSource{info: media.StreamInfo{Codec: "raw", Width: w, Height: h, FPS: fps}, frames: frames, seed: 2463534242, t0: t0, done: make(chan struct{})}
	opened := false
	set, err := mask.NewSet(masks)
	if err != nil {
		t.Fatal(err)
	}
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{ID: "cam", Source: "test://noise", Masks: set, BitrateKbps: kbps, KeyframeInterval: time.Second},
		pipeline.Deps{Health: health.NewTracker("t", "test", nil), MinBackoff: time.Hour, MaxBackoff: time.Hour,
			Open: func(ctx context.Context, url string, o source.Options) (source.Source, error) {
				if opened {
					return nil, errors.New("opened twice")
				}
				opened = true
				return src, nil
			}})
	if err != nil {
		t.Fatal(err)
	}
	recReader := cam.Hub().Subscribe(4 * frames)
	rec := record.New(record.Config{Camera: "cam", MaxSegment: time.Hour}, st, recReader)
	src.published = make(chan struct{}, frames)
	pace := cam.Hub().Subscribe(4 * frames)
	go func() {
		for range pace.C() {
			src.published <- struct{}{}
		}
	}()
	defer pace.Close()
	done := make(chan struct{}, 2)
	go func() { cam.Run(ctx); done <- struct{}{} }()
	go func() { rec.Run(ctx); done <- struct{}{} }()
	select {
	case <-src.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("the camera took only %d of %d pictures in 3 minutes", src.n, frames)
	}
	// The last picture was encoded and published before the source was
	// asked for the next one; give the recorder time to store it.
	deadline := time.Now().Add(10 * time.Second)
	var aus [][]byte
	for time.Now().Before(deadline) {
		aus = aus[:0]
		err := st.ReadFrames(ctx, "cam", t0.Add(-time.Minute), t0.Add(time.Hour), func(f storage.Frame) error {
			aus = append(aus, f.Data)
			return nil
		})
		if err == nil && len(aus) == frames {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	<-done
	<-done
	if len(aus) != frames {
		t.Fatalf("recorded %d access units, want %d (recorder's reader dropped %d, pacing reader %d, source read %d)", len(aus), frames, recReader.Dropped(), pace.Dropped(), src.n)
	}
	es := filepath.Join(dir, "rec.h264")
	if err := os.WriteFile(es, bytes.Join(aus, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command("ffmpeg", "-v", "error", "-f", "h264", "-i", es, "-pix_fmt", "yuv420p", "-f", "rawvideo", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg decode: %v", err)
	}
	fsz := w * h * 3 / 2
	if len(raw) != frames*fsz {
		t.Fatalf("ffmpeg decoded %d bytes, want %d pictures of %dx%d", len(raw), frames, w, h)
	}
	pics := make([][]byte, frames)
	for i := range pics {
		pics[i] = raw[i*fsz : (i+1)*fsz]
	}
	return pics
}

// The test's own geometry, independent of edge/mask's rasterizer.

type fpoint struct{ x, y float64 }

func pixels(p []mask.Point, w, h int) []fpoint {
	out := make([]fpoint, len(p))
	for i, q := range p {
		out[i] = fpoint{q.X * float64(w), q.Y * float64(h)}
	}
	return out
}

// insidePoly is the even-odd rule at (x, y).
func insidePoly(p []fpoint, x, y float64) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		if (p[i].y > y) != (p[j].y > y) && x < (p[j].x-p[i].x)*(y-p[i].y)/(p[j].y-p[i].y)+p[i].x {
			in = !in
		}
	}
	return in
}

// outlineDist is the distance from (x, y) to the nearest polygon edge.
func outlineDist(p []fpoint, x, y float64) float64 {
	d := math.Inf(1)
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		a, b := p[j], p[i]
		dx, dy := b.x-a.x, b.y-a.y
		t := math.Max(0, math.Min(1, ((x-a.x)*dx+(y-a.y)*dy)/(dx*dx+dy*dy)))
		d = math.Min(d, math.Hypot(a.x+t*dx-x, a.y+t*dy-y))
	}
	return d
}

// grownMBs marks the 16×16 macroblocks of the w×h picture's coded grid that
// hold a pixel centre inside p.
func grownMBs(p []fpoint, w, h int) (mbs []bool, cols int) {
	cols, rows := (w+15)/16, (h+15)/16
	mbs = make([]bool, cols*rows)
	for y := range h {
		for x := range w {
			if insidePoly(p, float64(x)+0.5, float64(y)+0.5) {
				mbs[(y/16)*cols+x/16] = true
			}
		}
	}
	return mbs, cols
}

// R2, D3 (issue 14): masks are exact at any bitrate and shape. Fresh noise
// and scrolling text behind a triangle, a thin diagonal band and an
// off-grid rectangle (fill) and a pentagon (pixelate), at 640×360 (coded as
// 640×368: the last macroblock row is half outside the picture) and
// 1920×1080 (coded as 1088), at 300 kbit/s and 4 Mbit/s, through the real
// masked camera path, recorded, read back and decoded by ffmpeg: no pixel
// at ≥ 4 px inside a fill polygon is off the fill by more than 4 (in any
// picture, keyframes included), and every 16 px pixelation cell wholly
// inside the pixelate polygon's macroblocks has a luma and chroma standard
// deviation ≤ 2. How: edge/mask (guard ring, pixelation held per GOP and
// quantized) and edge/codec (deblocking off), see their doc.go.
func TestR2MasksExactOnMacroblockGrid(t *testing.T) {
	for _, sz := range []struct {
		w, h   int
		fps    float64
		frames int
		kbps   []int
	}{
		{640, 360, 15, 45, []int{300, 4000}},
		// 1080p at 5 fps: a shared 2-core test box encodes 1080p noise
		// slower than 15 fps; the geometry is what matters here.
		{1920, 1080, 5, 20, []int{300, 1500, 4000}},
	} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			if sz.w > 640 && testing.Short() {
				t.Skip("1080p: not with -short")
			}
			// With a pixelated mask the encoder runs at medium
			// complexity; with fill only at low (cheaper): both exact.
			t.Run("fill+pixelate", func(t *testing.T) { checkMasksExact(t, sz.w, sz.h, sz.fps, sz.frames, sz.kbps, true) })
			t.Run("fill", func(t *testing.T) { checkMasksExact(t, sz.w, sz.h, sz.fps, sz.frames, sz.kbps, false) })
		})
	}
}

func checkMasksExact(t *testing.T, w, h int, fps float64, frames int, rates []int, pixelate bool) {
	fills := []mask.Mask{
		{Name: "triangle", Polygon: []mask.Point{{X: 0.03, Y: 0.05}, {X: 0.40, Y: 0.12}, {X: 0.10, Y: 0.62}}},
		{Name: "band", Polygon: []mask.Point{{X: 0.45, Y: 0.04}, {X: 0.50, Y: 0.04}, {X: 0.93, Y: 0.60}, {X: 0.88, Y: 0.60}}},
		{Name: "rect", Polygon: []mask.Point{{X: 0.031, Y: 0.753}, {X: 0.372, Y: 0.753}, {X: 0.372, Y: 0.981}, {X: 0.031, Y: 0.981}}},
	}
	pix := mask.Mask{Name: "door", Style: mask.StylePixelate, Polygon: []mask.Point{{X: 0.52, Y: 0.72}, {X: 0.80, Y: 0.70}, {X: 0.97, Y: 0.83}, {X: 0.90, Y: 0.99}, {X: 0.55, Y: 0.97}}}
	masks := slices.Clone(fills)
	if pixelate {
		masks = append(masks, pix)
	}

	// Which pixels to judge, from the test's own geometry.
	type judged struct {
		name string
		idx  []int // luma indexes ≥ 4 px inside the polygon
		deep []bool
	}
	var interiors []judged
	for _, m := range fills {
		p := pixels(m.Polygon, w, h)
		j := judged{name: m.Name}
		for y := range h {
			for x := range w {
				cx, cy := float64(x)+0.5, float64(y)+0.5
				if d := outlineDist(p, cx, cy); insidePoly(p, cx, cy) && d >= 4 {
					j.idx = append(j.idx, y*w+x)
					j.deep = append(j.deep, d >= 8)
				}
			}
		}
		if len(j.idx) < 500 {
			t.Fatalf("%s: only %d interior pixels to judge", m.Name, len(j.idx))
		}
		interiors = append(interiors, j)
	}
	pixMBs, cols := grownMBs(pixels(pix.Polygon, w, h), w, h)
	var fillMBs []bool
	for _, m := range fills {
		mb, _ := grownMBs(pixels(m.Polygon, w, h), w, h)
		if fillMBs == nil {
			fillMBs = mb
			continue
		}
		for i := range mb {
			fillMBs[i] = fillMBs[i] || mb[i]
		}
	}
	var cells []int // top-left luma index of whole 16 px cells to judge
	for i, in := range pixMBs {
		x, y := (i%cols)*16, (i/cols)*16
		// Not within a macroblock of a fill area (its guard ring, where
		// fill wins, is flat anyway and would flatter the figures).
		nearFill := false
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				r, c := i/cols+dy, i%cols+dx
				if r >= 0 && c >= 0 && c < cols && r*cols+c < len(fillMBs) && fillMBs[r*cols+c] {
					nearFill = true
				}
			}
		}
		if in && !nearFill && y+16 <= h && x+16 <= w {
			cells = append(cells, y*w+x)
		}
	}
	if len(cells) < 20 && pixelate {
		t.Fatalf("only %d pixelation cells to judge", len(cells))
	}

	for _, kbps := range rates {
		t.Run(fmt.Sprintf("%dkbps", kbps), func(t *testing.T) {
			pics := recordMaskedNoise(t, w, h, fps, kbps, frames, masks)
			for _, j := range interiors {
				bad, badPics, worst, badDeep := 0, 0, 0, 0
				for np, pic := range pics {
					n := 0
					for k, i := range j.idx {
						d := int(pic[i]) - mask.DefaultFillY
						d = max(d, -d)
						worst = max(worst, d)
						if d > 4 && j.deep[k] {
							badDeep++
						}
						if d > 4 {
							if os.Getenv("MBDEBUG") != "" && n < 3 {
								t.Logf("pic %d (%d,%d) mb (%d,%d) Y=%d", np, i%w, i/w, (i%w)/16, (i/w)/16, pic[i])
							}
							n++
						}
					}
					bad += n
					if n > 0 {
						badPics++
					}
				}
				t.Logf("%s: %d pixels ≥ 4 px inside × %d pictures: %d off the fill by > 4 (in %d pictures; %d at ≥ 8 px), worst |Y-16| %d", j.name, len(j.idx), len(pics), bad, badPics, badDeep, worst)
				if bad > 0 {
					t.Errorf("%s at %d kbit/s: %d pixels in %d of %d pictures off the fill by more than 4 (worst %d)", j.name, kbps, bad, badPics, len(pics), worst)
				}
			}
			if !pixelate {
				return
			}
			var worstY, worstC float64
			var sds []float64
			for np, pic := range pics {
				for _, c := range cells {
					sd := stddev(pic, c, w, 16)
					if sd > 2 && os.Getenv("MBDEBUG") != "" {
						t.Logf("cell mb (%d,%d) pic %d sd %.2f", (c%w)/16, c/w/16, np, sd)
					}
					sds = append(sds, sd)
					worstY = math.Max(worstY, sd)
					cx, cy := (c%w)/2, (c/w)/2
					for _, plane := range [][]byte{pic[w*h : w*h+w*h/4], pic[w*h+w*h/4:]} {
						worstC = math.Max(worstC, stddev(plane, cy*(w/2)+cx, w/2, 8))
					}
				}
			}
			slices.Sort(sds)
			t.Logf("pixelate: %d cells × %d pictures: luma std-dev median %.2f, worst %.2f; chroma worst %.2f", len(cells), len(pics), sds[len(sds)/2], worstY, worstC)
			if worstY > 2 || worstC > 2 {
				t.Errorf("pixelate at %d kbit/s: cell standard deviation worst luma %.2f, chroma %.2f (median %.2f), want ≤ 2", kbps, worstY, worstC, sds[len(sds)/2])
			}
		})
	}
}

// stddev of the b×b block at index i of a plane with the given stride.
func stddev(plane []byte, i, stride, b int) float64 {
	var s, sq float64
	for y := range b {
		for _, v := range plane[i+y*stride : i+y*stride+b] {
			s += float64(v)
			sq += float64(v) * float64(v)
		}
	}
	n := float64(b * b)
	return math.Sqrt(math.Max(sq/n-(s/n)*(s/n), 0))
}
