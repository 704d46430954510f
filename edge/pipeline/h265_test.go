package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/export"
	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/record"
	"github.com/edgerec/edgerec/edge/source/rtsprig"
	"github.com/edgerec/edgerec/storage"
)

func newRig265(t *testing.T) *rig {
	t.Helper()
	r := newRigNoPublish(t)
	p, err := r.srv.Publish(context.Background(), "cam", rtsprig.FFmpegArgsH265("640x360", 15))
	if err != nil {
		t.Fatal(err)
	}
	r.pub = p
	t.Cleanup(p.Stop)
	return r
}

// TestH265PassthroughRecordExport (issue 18): ffmpeg publishes H.265 over
// RTSP; an unmasked camera records it passthrough, the segments say
// h265, health names the codec and says why there is no image health or
// snapshot (not a false "healthy"); the export of an asked range is an
// hvc1 MP4 that ffprobe reads as hevc, every frame decodes, and its
// duration is within one GOP (2 s) of the range.
func TestH265PassthroughRecordExport(t *testing.T) {
	r := newRig265(t)
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{ID: "cam", Source: r.srv.URL("cam")}, pipeline.Deps{Health: r.tr})
	if err != nil {
		t.Fatal(err)
	}
	rec := record.New(record.Config{Camera: "cam", MaxSegment: 3 * time.Second}, r.store, cam.Hub().Subscribe(512))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { cam.Run(ctx); done <- struct{}{} }()
	go func() { rec.Run(ctx); done <- struct{}{} }()
	r.waitState(health.StateRecording, 20*time.Second)
	time.Sleep(7 * time.Second)
	if _, _, err := cam.Snapshot(context.Background()); !errors.Is(err, pipeline.ErrH265NoDecoder) || !errors.Is(err, pipeline.ErrNoSnapshot) {
		t.Errorf("snapshot of an H.265 camera: %v", err)
	} else if re, ok := err.(interface{ UserReason() string }); !ok || !strings.Contains(re.UserReason(), "H.265") {
		t.Errorf("snapshot error has no reason for the user: %v", err)
	}
	cancel()
	<-done
	<-done
	for _, c := range r.tr.Snapshot().Cameras {
		if c.Codec != "h265" || !strings.Contains(c.Encoder, "H.265") || !strings.Contains(c.ImageUnchecked, "H.265") || c.Width != 640 {
			t.Fatalf("health: %+v", c)
		}
	}
	segs, err := r.store.Segments(context.Background(), "cam", time.Time{}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 2 {
		t.Fatalf("%d segments (MaxSegment 3 s over ~7 s)", len(segs))
	}
	for _, s := range segs {
		if s.Codec != "h265" {
			t.Fatalf("segment %d codec %q", s.ID, s.Codec)
		}
	}
	// Ask for 4 s from the middle of the recording.
	from := segs[0].Start.Add(time.Second)
	to := from.Add(4 * time.Second)
	var buf bytes.Buffer
	allow := export.AuthorizerFunc(func(context.Context, string, string, time.Time, time.Time) error { return nil })
	m, err := export.Export(context.Background(), r.store, export.Request{Device: "d", Camera: "cam", From: from, To: to,
		GrantID: "g", Authorizer: allow, FileName: "x.mp4"}, &buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Video.Codec, "hvc1.") || m.Video.Width != 640 || m.Video.Height != 360 {
		t.Fatalf("manifest video %+v", m.Video)
	}
	if !bytes.Contains(buf.Bytes()[:4096], []byte("hvc1")) || !bytes.Contains(buf.Bytes()[:4096], []byte("hvcC")) {
		t.Fatal("no hvc1/hvcC sample entry")
	}
	f := filepath.Join(t.TempDir(), "x.mp4")
	if err := os.WriteFile(f, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
		"stream=codec_name,codec_tag_string,width,height,nb_read_frames:format=duration", "-of", "json", f).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var probe struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			Tag       string `json:"codec_tag_string"`
			Frames    string `json:"nb_read_frames"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &probe); err != nil || len(probe.Streams) != 1 {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	s := probe.Streams[0]
	dur, _ := strconv.ParseFloat(probe.Format.Duration, 64)
	frames, _ := strconv.Atoi(s.Frames)
	t.Logf("ffprobe: %s/%s, %d frames, %.2f s for an asked 4 s", s.CodecName, s.Tag, frames, dur)
	if s.CodecName != "hevc" || s.Tag != "hvc1" {
		t.Fatalf("ffprobe: %s", out)
	}
	if dur < 4-2 || dur > 4+2 {
		t.Fatalf("duration %.2f s, asked 4 s (GOP 2 s)", dur)
	}
	if frames < int(dur*15)-2 {
		t.Fatalf("%d frames decoded in %.2f s at 15 fps", frames, dur)
	}
	// The decoder reads every frame without an error.
	if dec, err := exec.Command("ffmpeg", "-v", "error", "-xerror", "-i", f, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(dec)) > 0 {
		t.Fatalf("ffmpeg decode: %v: %s", err, dec)
	}
}

// TestH265MaskedCameraRefused (issue 18, R2): a masked camera that sends
// H.265 is refused with the reason and a way out, and nothing is
// recorded (never recorded unmasked).
func TestH265MaskedCameraRefused(t *testing.T) {
	r := newRig265(t)
	cam, err := pipeline.NewCamera(pipeline.CameraConfig{ID: "cam", Source: r.srv.URL("cam"), Masks: rtspSet()},
		pipeline.Deps{Health: r.tr, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := record.New(record.Config{Camera: "cam"}, r.store, cam.Hub().Subscribe(512))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { cam.Run(ctx); done <- struct{}{} }()
	go func() { rec.Run(ctx); done <- struct{}{} }()
	r.waitState(health.StateRefused, 20*time.Second)
	for _, c := range r.tr.Snapshot().Cameras {
		if !strings.Contains(c.Reason, "camera sends H.265; masks need H.264: switch the camera's video codec to H.264") || strings.Contains(c.Reason, "never connected") {
			t.Fatalf("reason %q", c.Reason)
		}
	}
	time.Sleep(2 * time.Second)
	cancel()
	<-done
	<-done
	for _, c := range r.tr.Snapshot().Cameras {
		if c.State != health.StateRefused && c.State != health.StateStopped {
			t.Fatalf("state %s", c.State)
		}
	}
	segs, err := r.store.Segments(context.Background(), "cam", time.Time{}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 0 {
		t.Fatalf("%d segments recorded from a masked H.265 camera", len(segs))
	}
	n := 0
	if err := r.store.ReadFrames(context.Background(), "cam", time.Time{}, time.Now().Add(time.Hour), func(storage.Frame) error { n++; return nil }); err != nil && n != 0 {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d frames stored", n)
	}
}
