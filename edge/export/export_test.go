package export

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgerec/edgerec/storage"
)

var (
	exFrom = t0.Add(3500 * time.Millisecond)
	exTo   = t0.Add(15200 * time.Millisecond)
)

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func request(a Authorizer) Request {
	return Request{
		Device: "gw-0042", Camera: "cam1", CameraName: "Entrance hall", OpaqueCameraID: "c-7f3a9e",
		From: exFrom, To: exTo, GrantID: "grant-17", Requester: "olga", Approver: "amir", Exporter: "olga",
		AuditSeq: 912, FileName: "entrance.mp4", Authorizer: a,
		Now: func() time.Time { return time.Date(2025, 3, 11, 9, 0, 0, 0, time.UTC) },
	}
}

// exportFiles exports the standard sub-range into dir as entrance.mp4 and
// entrance.manifest.json and returns the manifest, the MP4 and the doc.
func exportFiles(t *testing.T, s *storage.Store, dir string, key ed25519.PrivateKey) (Manifest, []byte, []byte) {
	t.Helper()
	var buf bytes.Buffer
	var last time.Duration
	calls := 0
	m, err := Export(context.Background(), s, request(&allow{}), &buf, func(done, total time.Duration) {
		if done < last || done > total {
			t.Errorf("progress %v of %v after %v", done, total, last)
		}
		last = done
		calls++
	})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if calls < 2 || last != exTo.Sub(exFrom) { // coverage of [From, To): 11.7 s
		t.Fatalf("progress calls %d, last %v", calls, last)
	}
	doc, err := SignManifest(m, key)
	if err != nil {
		t.Fatal(err)
	}
	mp4 := filepath.Join(dir, "entrance.mp4")
	if err := os.WriteFile(mp4, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ManifestPath(mp4), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return m, buf.Bytes(), doc
}

func ffprobe(t *testing.T, args ...string) map[string]string {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatal("ffprobe not installed: run scripts/deps.sh")
	}
	out, err := exec.Command("ffprobe", append([]string{"-v", "error", "-of", "default=noprint_wrappers=1"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %v: %v\n%s", args, err, out)
	}
	kv := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// R17: the export holds exactly the requested range, cut at the keyframe at
// or before From and ending before To; ffprobe sees H.264 of the expected
// duration (within one GOP of To−From, and to the frame of what the
// manifest says); ffmpeg decodes every frame without an error; the masked
// area decodes to the fill colour (the video is copied as recorded); the
// manifest names everything and verifies.
func TestR17ExportPlayableExactRange(t *testing.T) {
	s := recordedStore(t, 0, 0)
	dir := t.TempDir()
	key := newKey(t)
	m, mp4, doc := exportFiles(t, s, dir, key)
	path := filepath.Join(dir, "entrance.mp4")

	// Manifest content.
	wantStart := frameTime(30) // keyframe at 2 s, at or before From = 3.5 s
	if !m.Start.Equal(wantStart) || !m.End.Equal(exTo) {
		t.Fatalf("file range %s..%s, want %s..%s", m.Start, m.End, wantStart, exTo)
	}
	// frames 30..227 (frame 228 is at 15.2 s = To, excluded)
	if m.Video.Frames != 198 || m.Video.Keyframes != 7 || m.Video.Width != 640 || m.Video.Height != 360 {
		t.Fatalf("video %+v", m.Video)
	}
	if m.Camera.ID != "c-7f3a9e" || m.Camera.Name != "Entrance hall" || m.Grant != "grant-17" || m.Approver != "amir" ||
		m.Requester != "olga" || m.Exporter != "olga" || m.AuditSeq != 912 || m.Device != "gw-0042" || m.File.Size != int64(len(mp4)) {
		t.Fatalf("manifest %+v", m)
	}
	if len(m.Coverage) != 1 {
		t.Fatalf("coverage %+v", m.Coverage)
	}

	// ffprobe: codec, size, duration.
	kv := ffprobe(t, "-show_entries", "format=duration,format_name:stream=codec_name,width,height", path)
	if kv["codec_name"] != "h264" || kv["width"] != "640" || kv["height"] != "360" || !strings.Contains(kv["format_name"], "mp4") {
		t.Fatalf("ffprobe: %v", kv)
	}
	dur, err := strconv.ParseFloat(kv["duration"], 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q", kv["duration"])
	}
	gopSec := float64(gop) / fps
	if want := exTo.Sub(exFrom).Seconds(); math.Abs(dur-want) > gopSec {
		t.Errorf("ffprobe duration %.3f s, requested %.3f s: more than one GOP (%.1f s) apart", dur, want, gopSec)
	}
	if math.Abs(dur-m.Duration().Seconds()) > 1.0/fps {
		t.Errorf("ffprobe duration %.3f s, manifest %.3f s", dur, m.Duration().Seconds())
	}
	kv = ffprobe(t, "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", path)
	if kv["nb_read_frames"] != "198" {
		t.Errorf("ffprobe decoded %s frames, want 198", kv["nb_read_frames"])
	}
	out, err := exec.Command("ffmpeg", "-v", "error", "-xerror", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("ffmpeg decode: %v\n%s", err, out)
	}

	// D3/R2: the masked area is the fill (video black Y=16, U=V=128) in
	// every decoded frame; outside it the test pattern is not black.
	raw, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-pix_fmt", "yuv420p", "-f", "rawvideo", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 640, 360
	fsz := w * h * 3 / 2
	if len(raw) != 198*fsz {
		t.Fatalf("decoded %d bytes, want %d frames", len(raw), 198)
	}
	for f := 0; f < 198; f++ {
		fr := raw[f*fsz : (f+1)*fsz]
		var inside, outside float64
		for y := maskBox.y + 4; y < maskBox.y+maskBox.h-4; y++ {
			for x := maskBox.x + 4; x < maskBox.x+maskBox.w-4; x++ {
				if d := math.Abs(float64(fr[y*w+x]) - 16); d > inside {
					inside = d
				}
			}
		}
		u := fr[w*h+(maskBox.y/2+10)*(w/2)+maskBox.x/2+10]
		v := fr[w*h+w*h/4+(maskBox.y/2+10)*(w/2)+maskBox.x/2+10]
		for x := 300; x < 600; x++ {
			outside = math.Max(outside, float64(fr[250*w+x]))
		}
		if inside > 6 || math.Abs(float64(u)-128) > 6 || math.Abs(float64(v)-128) > 6 {
			t.Fatalf("frame %d: masked area is not the fill (max |Y-16| = %.0f, U %d, V %d)", f, inside, u, v)
		}
		if outside < 60 {
			t.Fatalf("frame %d: picture outside the mask is black too (decoder returned nothing?)", f)
		}
	}

	// The signed manifest verifies against the file, and VerifyFile finds
	// the pair from either name.
	got, err := Verify(doc, bytes.NewReader(mp4), WithDeviceKey(key.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got.File.SHA256 != m.File.SHA256 || got.DeviceKey != EncodeKey(key.Public().(ed25519.PublicKey)) {
		t.Fatalf("verified manifest %+v", got)
	}
	for _, p := range []string{path, ManifestPath(path)} {
		v, err := VerifyFile(p)
		if err != nil {
			t.Fatalf("VerifyFile(%s): %v", filepath.Base(p), err)
		}
		sum := v.Summary()
		for _, want := range []string{"approved by amir", "requested by olga", "grant-17", "Entrance hall", "#912", "gw-0042"} {
			if !strings.Contains(sum, want) {
				t.Errorf("summary lacks %q:\n%s", want, sum)
			}
		}
	}
}

// R17: the MP4 plays to the end in headless Chromium (the <video> element
// fires "ended" and reports the size and duration). Chromium must be
// installed (scripts/deps.sh); this test does not skip.
func TestR17ExportPlaysInChromium(t *testing.T) {
	var bin string
	for _, c := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(c); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatal("chromium is not installed: run scripts/deps.sh (the export must be shown to play in a browser, R17)")
	}
	s := recordedStore(t, 0, 0)
	dir := t.TempDir()
	m, _, _ := exportFiles(t, s, dir, newKey(t))
	page := `<!doctype html><video id="v" src="entrance.mp4" muted playsinline></video>`
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"), chromedp.Flag("mute-audio", true))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/index.html")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	js := `new Promise((resolve, reject) => {
		const v = document.getElementById('v');
		const fail = () => reject(new Error('media error ' + (v.error ? v.error.code + ': ' + v.error.message : '?')));
		if (v.error) { fail(); return; }
		v.addEventListener('error', fail);
		v.addEventListener('ended', () => resolve(JSON.stringify({ended: v.ended, t: v.currentTime, d: v.duration, w: v.videoWidth, h: v.videoHeight, frames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1})));
		v.playbackRate = 4;
		v.play().catch(reject);
	})`
	res, err := chromedp.Run(bctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("chromium playback: %v", err)
	}
	var r struct {
		Ended  bool
		T, D   float64
		W, H   int
		Frames int
	}
	if err := json.Unmarshal([]byte(res), &r); err != nil {
		t.Fatalf("%s: %v", res, err)
	}
	t.Logf("chromium: %s", res)
	if !r.Ended || r.W != 640 || r.H != 360 || math.Abs(r.D-m.Duration().Seconds()) > 1.0/fps || math.Abs(r.T-r.D) > 0.1 || r.Frames < m.Video.Frames*9/10 {
		t.Fatalf("chromium played %+v, want the whole %.3f s at 640x360", r, m.Duration().Seconds())
	}
}

// R17: any changed byte of the manifest or the MP4 fails verification; a
// truncated MP4 fails; a manifest re-signed by another device fails against
// the pinned device key; a payload that names another key than the signer
// fails even without a pin.
func TestR17VerifyDetectsChanges(t *testing.T) {
	s := recordedStore(t, 0, 0)
	dir := t.TempDir()
	key := newKey(t)
	pub := key.Public().(ed25519.PublicKey)
	m, mp4, doc := exportFiles(t, s, dir, key)
	if _, err := Verify(doc, bytes.NewReader(mp4)); err != nil {
		t.Fatal(err)
	}
	// Every byte of the manifest (the trailing newline is optional).
	for i := 0; i < len(doc)-1; i++ {
		bad := bytes.Clone(doc)
		bad[i] ^= 0x01
		if _, err := VerifyManifest(bad); err == nil {
			t.Fatalf("manifest with byte %d (%q) flipped verifies", i, doc[i])
		}
	}
	// Bytes of the MP4 spread over the file, first and last included.
	for _, i := range []int{0, 4, 7, 100, 1000, len(mp4) / 3, len(mp4) / 2, len(mp4) - 100, len(mp4) - 1} {
		bad := bytes.Clone(mp4)
		bad[i] ^= 0x80
		if _, err := Verify(doc, bytes.NewReader(bad)); !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("MP4 with byte %d flipped: %v", i, err)
		}
	}
	if _, err := Verify(doc, bytes.NewReader(mp4[:len(mp4)-1000])); !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated MP4: %v", err)
	}
	if _, err := Verify(doc, bytes.NewReader(append(bytes.Clone(mp4), 0))); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("extended MP4: %v", err)
	}
	// Another device re-signs the same manifest: valid on its own, refused
	// against the pinned key of the real device.
	other := newKey(t)
	forged, err := SignManifest(m, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(forged, bytes.NewReader(mp4), WithDeviceKey(pub)); !errors.Is(err, ErrWrongDevice) {
		t.Fatalf("manifest of another device with pinned key: %v", err)
	}
	// A payload naming the real device key, signed by another key.
	m.DeviceKey = EncodeKey(pub)
	mixed, err := SignDoc(KindManifest, m, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(mixed, bytes.NewReader(mp4)); !errors.Is(err, ErrWrongDevice) {
		t.Fatalf("payload naming another key: %v", err)
	}
	// Re-indented (semantically equal) JSON is a change too.
	var pretty bytes.Buffer
	json.Indent(&pretty, doc, "", "  ")
	if _, err := VerifyManifest(pretty.Bytes()); err == nil {
		t.Fatal("re-indented manifest verifies")
	}
	// Files on disk: a flipped byte in the MP4 fails VerifyFile.
	path := filepath.Join(dir, "entrance.mp4")
	bad := bytes.Clone(mp4)
	bad[len(bad)/2] ^= 1
	os.WriteFile(path, bad, 0o644)
	if _, err := VerifyFile(ManifestPath(path)); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("VerifyFile with changed MP4: %v", err)
	}
}

// failWriter fails the test if anything is written.
type failWriter struct{ t *testing.T }

func (f failWriter) Write(p []byte) (int, error) {
	f.t.Errorf("%d bytes written by a refused export", len(p))
	return len(p), nil
}

// R17, bad input: no grant, a refused grant (expired, other camera, range
// outside the grant: the Authorizer says so), an inverted or empty range,
// a range outside the recorded coverage — each a clear error, and nothing
// is written. The Authorizer is asked with the exact grant, camera and
// range before any read.
func TestR17ExportRefusals(t *testing.T) {
	s := recordedStore(t, 0, 0)
	ctx := context.Background()
	expired := errors.New("grant grant-17 expired at 2025-03-11T08:00:00Z")
	cases := []struct {
		name string
		mod  func(*Request)
		want error
	}{
		{"no authorizer", func(r *Request) { r.Authorizer = nil }, ErrNotAuthorized},
		{"no grant", func(r *Request) { r.GrantID = "" }, ErrNotAuthorized},
		{"grant expired", func(r *Request) { r.Authorizer = &allow{err: expired} }, expired},
		{"inverted range", func(r *Request) { r.From, r.To = r.To, r.From }, ErrInvalidRange},
		{"empty range", func(r *Request) { r.To = r.From }, ErrInvalidRange},
		{"zero time", func(r *Request) { r.From = time.Time{} }, ErrInvalidRange},
		{"no camera", func(r *Request) { r.Camera = "" }, ErrInvalidRange},
		{"before coverage", func(r *Request) { r.From, r.To = t0.Add(-time.Hour), t0.Add(-time.Minute) }, ErrNoFootage},
		{"after coverage", func(r *Request) { r.From, r.To = t0.Add(time.Hour), t0.Add(2*time.Hour) }, ErrNoFootage},
		{"unknown camera", func(r *Request) { r.Camera = "cam9" }, ErrNoFootage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := request(&allow{})
			c.mod(&r)
			_, err := Export(ctx, s, r, failWriter{t}, func(time.Duration, time.Duration) { t.Error("progress on a refused export") })
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			t.Logf("%s: %v", c.name, err)
		})
	}
	a := &allow{}
	r := request(a)
	if _, err := Export(ctx, s, r, &bytes.Buffer{}, nil); err != nil {
		t.Fatal(err)
	}
	want := "grant-17|cam1|" + exFrom.Format(time.RFC3339Nano) + "|" + exTo.Format(time.RFC3339Nano)
	if len(a.calls) != 1 || a.calls[0] != want {
		t.Fatalf("authorizer calls %v, want [%s]", a.calls, want)
	}
}

// R17: footage with a gap exports with the gap kept on the timeline (the
// file lasts the whole wall-clock range) and the manifest lists two spans.
func TestR17ExportAcrossGap(t *testing.T) {
	s := recordedStore(t, 120, 180) // 8 s .. 12 s missing
	var buf bytes.Buffer
	r := request(&allow{})
	m, err := Export(context.Background(), s, r, &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Coverage) != 2 || m.Video.Frames != 198-60 {
		t.Fatalf("coverage %+v, frames %d", m.Coverage, m.Video.Frames)
	}
	if !m.Start.Equal(frameTime(30)) || !m.End.Equal(exTo) {
		t.Fatalf("range %s..%s", m.Start, m.End)
	}
	p := filepath.Join(t.TempDir(), "gap.mp4")
	os.WriteFile(p, buf.Bytes(), 0o644)
	kv := ffprobe(t, "-show_entries", "format=duration", p)
	if d, _ := strconv.ParseFloat(kv["duration"], 64); math.Abs(d-m.Duration().Seconds()) > 1.0/fps {
		t.Fatalf("ffprobe duration %v, manifest %v", kv["duration"], m.Duration())
	}
}

// R25: the wipe certificate is a signed document of its own kind;
// VerifyFile accepts it and prints the steps; any changed byte fails; it is
// not mistaken for a manifest.
func TestR25WipeCertificate(t *testing.T) {
	key := newKey(t)
	rep := storage.WipeReport{RingID: "00ff", RingPath: "/data/ring", RingBytes: 8 << 20, Passes: 1,
		Started: t0, Finished: t0.Add(3 * time.Second), BytesOverwritten: 8<<20 + 4096, KeysDestroyed: 6,
		Steps: []storage.WipeStep{{Name: storage.StepRootKey, Result: storage.ResultOK, Bytes: 80}, {Name: storage.StepDiscard, Result: storage.ResultNotSupported, Note: "x"}}}
	c := NewWipeCertificate("gw-0042", rep, t0.Add(4*time.Second))
	c.Trigger, c.Grant, c.Admin, c.Approver, c.AuditSeq, c.AuditHead = "grant", "grant-99", "root-admin", "amir", 1234, "ab12"
	doc, err := SignWipeCertificate(c, key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(`"kind":"`+KindWipeCertificate+`"`)) {
		t.Fatalf("no kind: %s", doc)
	}
	p := filepath.Join(t.TempDir(), "wipe.json")
	os.WriteFile(p, doc, 0o644)
	v, err := VerifyFile(p, WithDeviceKey(key.Public().(ed25519.PublicKey)))
	if err != nil || v.Wipe == nil || v.Kind != KindWipeCertificate {
		t.Fatalf("VerifyFile: %+v %v", v, err)
	}
	if !v.Wipe.Complete || v.Wipe.AuditHead != "ab12" || len(v.Wipe.Steps) != 2 {
		t.Fatalf("certificate %+v", v.Wipe)
	}
	if sum := v.Summary(); !strings.Contains(sum, "approved by amir") || !strings.Contains(sum, "root-key") {
		t.Fatalf("summary:\n%s", sum)
	}
	for i := 0; i < len(doc)-1; i++ {
		bad := bytes.Clone(doc)
		bad[i] ^= 0x01
		if _, err := VerifyWipeCertificate(bad); err == nil {
			t.Fatalf("certificate with byte %d flipped verifies", i)
		}
	}
	if _, err := VerifyManifest(doc); !errors.Is(err, ErrBadDocument) {
		t.Fatalf("certificate as manifest: %v", err)
	}
	if _, err := VerifyFile(p, WithDeviceKey(newKey(t).Public().(ed25519.PublicKey))); !errors.Is(err, ErrWrongDevice) {
		t.Fatalf("certificate against another device key: %v", err)
	}
}

// BenchmarkExport measures export speed from an open store (decrypt +
// mux + SHA-256) and reports seconds of video per second and MB/s:
//
//	go test -run '^$' -bench Export -benchtime 5x ./edge/export
func BenchmarkExport(b *testing.B) {
	s := recordedStore(b, 0, 0)
	ctx := context.Background()
	r := request(&allow{})
	r.From, r.To = t0, frameTime(nFrames)
	var bytesOut int64
	var video time.Duration
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var cw countW
		m, err := Export(ctx, s, r, &cw, nil)
		if err != nil {
			b.Fatal(err)
		}
		bytesOut += cw.n
		video += m.Duration()
	}
	el := time.Since(start).Seconds()
	b.SetBytes(bytesOut / int64(b.N))
	b.ReportMetric(video.Seconds()/el, "video-s/s")
	b.ReportMetric(float64(bytesOut)/el/1e6, "MB/s")
}

type countW struct{ n int64 }

func (c *countW) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
