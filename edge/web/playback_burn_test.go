package web

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/edgerec/edgerec/edge/config"
	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/policy/rules"
	"github.com/edgerec/edgerec/storage"
)

// yuvFrame is one I420 picture decoded by ffmpeg.
type yuvFrame struct {
	w, h    int
	y, u, v []byte
}

// ffmpegFrames decodes a video file with ffmpeg (not the project's
// decoder) into I420 frames of w×h. format is "" (probe) or "h264".
func ffmpegFrames(t *testing.T, data []byte, format string, w, h int) []yuvFrame {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg not installed: run scripts/deps.sh")
	}
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-v", "error"}
	if format != "" {
		args = append(args, "-f", format)
	}
	args = append(args, "-i", in, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-")
	var out, errb bytes.Buffer
	cmd := exec.Command("ffmpeg", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, errb.String())
	}
	size := w * h * 3 / 2
	if out.Len()%size != 0 {
		t.Fatalf("ffmpeg: %d bytes is not a whole number of %dx%d frames", out.Len(), w, h)
	}
	var fs []yuvFrame
	b := out.Bytes()
	for len(b) >= size {
		fs = append(fs, yuvFrame{w: w, h: h, y: b[:w*h], u: b[w*h : w*h+w*h/4], v: b[w*h+w*h/4 : size]})
		b = b[size:]
	}
	return fs
}

// glyph is a line of text rendered with the 7×13 font at scale 1 (the
// test's own rendering of the string the overlay must show).
type glyph struct {
	w, h int
	ink  []bool
}

func renderGlyph(s string) glyph {
	face := basicfont.Face7x13
	w, h := font.MeasureString(face, s).Ceil(), face.Height
	img := image.NewAlpha(image.Rect(0, 0, w, h))
	d := font.Drawer{Dst: img, Src: image.Opaque, Face: face, Dot: fixed.P(0, face.Ascent)}
	d.DrawString(s)
	g := glyph{w: w, h: h, ink: make([]bool, w*h)}
	for i := range g.ink {
		g.ink[i] = img.Pix[i] > 127
	}
	return g
}

// match scores the luma of f against g placed at (x0, y0) with integer
// scale s, sampling the centre of each scaled font pixel: the smaller of
// the fraction of ink pixels that are bright and the fraction of
// background pixels that are dark (so neither a bright nor a dark area
// matches text by accident).
func (g glyph) match(f yuvFrame, x0, y0, s int) float64 {
	if x0+g.w*s > f.w || y0+g.h*s > f.h {
		return 0
	}
	var inkN, inkOK, bgN, bgOK int
	for gy := 0; gy < g.h; gy++ {
		row := (y0 + gy*s + s/2) * f.w
		for gx := 0; gx < g.w; gx++ {
			bright := f.y[row+x0+gx*s+s/2] > 128
			if g.ink[gy*g.w+gx] {
				inkN++
				if bright {
					inkOK++
				}
			} else {
				bgN++
				if !bright {
					bgOK++
				}
			}
		}
	}
	if inkN == 0 || bgN == 0 {
		return 0
	}
	return math.Min(float64(inkOK)/float64(inkN), float64(bgOK)/float64(bgN))
}

// find searches the lower half of f, near the left edge, scales 1..3.
func (g glyph) find(f yuvFrame) (best float64, x, y, s int) {
	for sc := 1; sc <= 3; sc++ {
		for y0 := f.h / 2; y0+g.h*sc <= f.h; y0++ {
			for x0 := 0; x0 <= 24; x0++ {
				if m := g.match(f, x0, y0, sc); m > best {
					best, x, y, s = m, x0, y0, sc
				}
			}
		}
	}
	return
}

// insidePoly is an independent even-odd point-in-polygon test in pixels,
// and polyEdgeDist the distance to the outline (the style of
// edge/mask's and edge/pipeline's reference checks).
func insidePoly(px, py float64, p []mask.Point, w, h int) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		xi, yi := p[i].X*float64(w), p[i].Y*float64(h)
		xj, yj := p[j].X*float64(w), p[j].Y*float64(h)
		if (yi > py) != (yj > py) && px < (xj-xi)*(py-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

func polyEdgeDist(px, py float64, p []mask.Point, w, h int) float64 {
	d := math.Inf(1)
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		ax, ay := p[j].X*float64(w), p[j].Y*float64(h)
		bx, by := p[i].X*float64(w), p[i].Y*float64(h)
		dx, dy := bx-ax, by-ay
		t := math.Max(0, math.Min(1, ((px-ax)*dx+(py-ay)*dy)/(dx*dx+dy*dy)))
		d = math.Min(d, math.Hypot(px-ax-t*dx, py-ay-t*dy))
	}
	return d
}

// checkFill asserts that every luma and chroma sample at least 8 px inside
// poly is the fill colour (video black), within coding noise.
func checkFill(t *testing.T, what string, f yuvFrame, poly []mask.Point) {
	t.Helper()
	n, bad := 0, 0
	for y := 0; y < f.h; y++ {
		for x := 0; x < f.w; x++ {
			cx, cy := float64(x)+0.5, float64(y)+0.5
			if !insidePoly(cx, cy, poly, f.w, f.h) || polyEdgeDist(cx, cy, poly, f.w, f.h) < 8 {
				continue
			}
			n++
			c := (y/2)*(f.w/2) + x/2
			if d := int(f.y[y*f.w+x]) - 16; d < -4 || d > 4 {
				bad++
			} else if du, dv := int(f.u[c])-128, int(f.v[c])-128; du < -4 || du > 4 || dv < -4 || dv > 4 {
				bad++
			}
		}
	}
	if n < 1000 || bad > 0 {
		t.Fatalf("%s: %d of %d pixels inside the mask are not the fill colour", what, bad, n)
	}
}

// Issue 12 finding 9 (R12, R18): played-back video carries the viewer's
// name, the grant id, the footage time and the wall time burned into its
// pixels, on a band that only darkens; masked areas stay the fill colour.
// The stream is decoded with ffmpeg, the text checked against the font
// rendered independently here.
func TestR18PlaybackBurnsViewerIn(t *testing.T) {
	e := newEnv(t, envOptions{noCams: true})
	poly := [][]float64{{0.55, 0.08}, {0.95, 0.08}, {0.95, 0.50}, {0.75, 0.62}, {0.55, 0.50}}
	if err := e.cams.Add(context.Background(), config.Camera{ID: "cam2", Name: "Back door", Source: "test://pattern?width=640&height=360&fps=10",
		Zone: rules.ZoneEntrance, Signage: config.Signage{AttestedBy: "setup", Date: config.Date{Time: time.Now()}},
		Masks: []config.Mask{{Name: "window", Style: mask.StyleFill, Polygon: poly}}}); err != nil {
		t.Fatal(err)
	}
	mpoly := config.Mask{Polygon: poly}.Mask().Polygon
	tm := e.makeTeam()
	op, ap := tm.cookies["operator"], tm.cookies["approver"]
	start := time.Now().UTC()
	waitFootage(t, e, "cam2", 5*time.Second)
	end := time.Now().UTC()
	var g grantView
	e.must(201, "POST", "/api/v1/grants", footageRequest{Action: "playback", Purpose: "incident 44", Cameras: []string{"cam2"},
		From: start.Add(-time.Minute), To: end.Add(time.Minute), ValidityHours: 1}, op, &g)
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, ap, nil)
	from, to := start.Add(time.Second), end
	// The recorder may still hold the last frames before to (a chunk is
	// readable once written): wait until footage after to is readable, so
	// that playback and the check below read the same frames.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after := 0
		_ = e.store.ReadFrames(context.Background(), "cam2", to, to.Add(time.Minute), func(f storage.Frame) error {
			if !f.Time.Before(to) {
				after++
			}
			return nil
		})
		if after > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no footage readable after the window's end within 15 s")
		}
	}
	viewStart := time.Now().UTC().Truncate(time.Second)
	resp := e.do("GET", "/api/v1/recordings/cam2/play?grant="+g.ID+"&from="+from.Format(time.RFC3339Nano)+"&to="+to.Format(time.RFC3339Nano), "", "", op)
	body := readAll(t, resp)
	viewEnd := time.Now().UTC()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("playback: %d %.200s", resp.StatusCode, body)
	}
	played := ffmpegFrames(t, body, "", 640, 360)
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, "playback transcoded") {
			t.Log(l)
		}
	}

	// The unwatermarked source: the stored access units of the same range.
	// Storage starts at the keyframe before from; playback shows exactly
	// the frames in [from, to).
	var src bytes.Buffer
	inWindow := 0
	if err := e.store.ReadFrames(context.Background(), "cam2", from, to, func(f storage.Frame) error {
		src.Write(f.Data)
		if !f.Time.Before(from) {
			inWindow++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	source := ffmpegFrames(t, src.Bytes(), "h264", 640, 360)
	if len(source) < 20 || len(played) < inWindow-1 || len(played) > inWindow {
		t.Fatalf("played %d frames, the window holds %d (source from the keyframe before it: %d)", len(played), inWindow, len(source))
	}

	// Line 1: viewer and grant id, found anywhere in the lower left.
	who := renderGlyph("operator " + g.ID)
	score, x0, y0, s := who.find(played[0])
	if score < 0.9 {
		t.Fatalf("viewer and grant id not found in the first played frame (best match %.2f)", score)
	}
	srcScore, _, _, _ := who.find(source[0])
	if srcScore > 0.75 {
		t.Fatalf("the source frame already matches the text (%.2f): the check proves nothing", srcScore)
	}
	t.Logf("played %d frames, source %d; viewer line matches %.3f at (%d,%d) scale %d; best in the source %.3f",
		len(played), len(source), score, x0, y0, s, srcScore)
	// Lines 2 and 3 below it: footage time and wall time (UTC, to the
	// second), one of the seconds the footage or the request spans.
	best := func(f yuvFrame, line int, prefix string, lo, hi time.Time) float64 {
		var m float64
		for at := lo.Truncate(time.Second); !at.After(hi); at = at.Add(time.Second) {
			gl := renderGlyph(prefix + at.UTC().Format("2006-01-02 15:04:05") + " UTC")
			m = math.Max(m, gl.match(f, x0, y0+line*gl.h*s, s))
		}
		return m
	}
	rec, now := best(played[0], 1, "rec ", from.Add(-5*time.Second), to), best(played[0], 2, "now ", viewStart, viewEnd)
	t.Logf("footage time line %.3f, wall time line %.3f", rec, now)
	if rec < 0.9 {
		t.Errorf("footage time line not found (best %.2f)", rec)
	}
	if now < 0.9 {
		t.Errorf("wall time line not found (best %.2f)", now)
	}
	if os.Getenv("EDGEREC_DUMP") != "" {
		dumpPNG(t, played[0], os.Getenv("EDGEREC_DUMP"))
	}
	for i, f := range played {
		if i%5 == 0 {
			if m := who.match(f, x0, y0, s); m < 0.9 {
				t.Errorf("frame %d: viewer line match %.2f", i, m)
			}
			checkFill(t, "played frame", f, mpoly)
		}
	}
	checkFill(t, "source frame", source[0], mpoly)
}

// gatedRecordings holds every playback read until released (a slow disk),
// so a test can have playbacks in flight; the footage is the real store's.
type gatedRecordings struct {
	Recordings
	entered chan struct{}
	release chan struct{}
}

func (g *gatedRecordings) ReadFrames(ctx context.Context, camera string, from, to time.Time, fn func(storage.Frame) error) error {
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Recordings.ReadFrames(ctx, camera, from, to, fn)
}

// Issue 12 finding 9 (R12): transcoded playback is capped device-wide;
// the next one gets 429 JSON with a clear message and the cap frees when
// a playback ends.
func TestR12PlaybackCap(t *testing.T) {
	gate := &gatedRecordings{entered: make(chan struct{}, 8), release: make(chan struct{})}
	e := newEnv(t, envOptions{recordings: func(st *storage.Store) Recordings { gate.Recordings = st; return gate }})
	tm := e.makeTeam()
	op, ap := tm.cookies["operator"], tm.cookies["approver"]
	start := time.Now().UTC()
	waitFootage(t, e, "cam1", 3*time.Second)
	end := time.Now().UTC()
	var g grantView
	e.must(201, "POST", "/api/v1/grants", footageRequest{Action: "playback", Purpose: "incident 45", Cameras: []string{"cam1"},
		From: start.Add(-time.Minute), To: end.Add(time.Minute), ValidityHours: 1}, op, &g)
	e.must(200, "POST", "/api/v1/grants/"+g.ID+"/approve", nil, ap, nil)
	path := "/api/v1/recordings/cam1/play?grant=" + g.ID + "&from=" + start.Format(time.RFC3339Nano) + "&to=" + end.Format(time.RFC3339Nano)
	type result struct {
		status int
		n      int
	}
	results := make(chan result, maxPlaybacks)
	for range maxPlaybacks {
		go func() {
			req, _ := http.NewRequest("GET", e.base+path, nil)
			req.AddCookie(op)
			resp, err := e.client.Do(req)
			if err != nil {
				results <- result{}
				return
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, buf.Len()}
		}()
	}
	for range maxPlaybacks {
		select {
		case <-gate.entered:
		case <-time.After(20 * time.Second):
			t.Fatal("playbacks did not start")
		}
	}
	msg := jsonError(t, e.do("GET", path, "", "", op), http.StatusTooManyRequests)
	if !strings.Contains(msg, "playback") {
		t.Errorf("429 message %q", msg)
	}
	close(gate.release)
	for range maxPlaybacks {
		if r := <-results; r.status != 200 || r.n < 1000 {
			t.Errorf("playback in flight: %d, %d bytes", r.status, r.n)
		}
	}
	resp := e.do("GET", path, "", "", op)
	if b := readAll(t, resp); resp.StatusCode != 200 {
		t.Errorf("after the others ended: %d %.200s", resp.StatusCode, b)
	}
}

// dumpPNG writes the luma of f as a PNG (EDGEREC_DUMP=file, to look at).
func dumpPNG(t *testing.T, f yuvFrame, path string) {
	img := image.NewGray(image.Rect(0, 0, f.w, f.h))
	copy(img.Pix, f.y)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// R18, R2: the burn-in band only darkens. Every sample outside the glyphs
// moves towards video black (luma) or neutral (chroma) and never past
// it; a fill-masked area under the band keeps exactly the fill colour.
func TestR18BurnBandOnlyDarkens(t *testing.T) {
	const w, h = 1280, 720
	f, _ := media.NewFrame(w, h)
	for i := range f.Y {
		f.Y[i] = byte(i*7919 + i/w*31)
	}
	for i := range f.U {
		f.U[i], f.V[i] = byte(i*104729), byte(i*1299709)
	}
	// A fill mask under the left part of the band.
	door := []mask.Point{{X: 0, Y: 0.5}, {X: 0.15, Y: 0.5}, {X: 0.15, Y: 1}, {X: 0, Y: 1}}
	m, err := mask.New([]mask.Mask{{Name: "door", Polygon: door}}, mask.Options{})
	if err != nil {
		t.Fatal(err)
	}
	masked := m.Apply(f).Frame()
	orig := masked.Clone()
	var b burner
	b.draw(masked, "operator g-0123456789abcdef0123", "rec 2026-01-02 03:04:05 UTC", "now 2026-01-02 03:04:05 UTC")
	toward := func(before, after, target byte) bool {
		d0, d1 := int(before)-int(target), int(after)-int(target)
		return d1*d0 >= 0 && (d1 <= d0 && d1 >= -d0 || d1 >= d0 && d1 <= -d0)
	}
	changed, text := 0, 0
	for i := range masked.Y {
		a, o := masked.Y[i], orig.Y[i]
		switch {
		case a == o:
		case a == burnYText:
			text++
		case !toward(o, a, burnYBlack) || a < burnYBlack && o >= burnYBlack:
			t.Fatalf("luma %d: %d became %d (not darker)", i, o, a)
		default:
			changed++
		}
		x, y := i%w, i/w
		inMask := insidePoly(float64(x)+0.5, float64(y)+0.5, door, w, h)
		if inMask && a != burnYText && a != mask.DefaultFillY {
			t.Fatalf("masked pixel (%d,%d) is %d under the band, want the fill %d", x, y, a, mask.DefaultFillY)
		}
	}
	for i := range masked.U {
		if !toward(orig.U[i], masked.U[i], burnCNeut) || !toward(orig.V[i], masked.V[i], burnCNeut) {
			t.Fatalf("chroma %d moved away from neutral", i)
		}
	}
	if text < 500 || changed < 10000 {
		t.Errorf("%d glyph pixels drawn, %d luma samples darkened", text, changed)
	}
}
