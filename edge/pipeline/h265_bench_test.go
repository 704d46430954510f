package pipeline_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/health"
	"github.com/edgerec/edgerec/edge/pipeline"
	"github.com/edgerec/edgerec/edge/record"
	"github.com/edgerec/edgerec/edge/source/rtsprig"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPassthroughCPU (issue 18) measures the gateway's CPU for one
// passthrough camera (1280x720, 15 fps, ~1 Mbit/s) over 10 s of
// recording, H.264 against H.265: RTSP receive (the in-process rig relay
// included, ffmpeg not: it is a child process), the hub, the recorder and
// storage. Reports cpu-%: percent of one core.
//
//	go test -run XXX -bench PassthroughCPU -benchtime 1x ./edge/pipeline
func BenchmarkPassthroughCPU(b *testing.B) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"h264", append(rtsprig.FFmpegArgs("1280x720", 15), "-b:v", "1M")},
		{"h265", append(rtsprig.FFmpegArgsH265("1280x720", 15), "-b:v", "1M")},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				r := newRigNoPublish(b)
				p, err := r.srv.Publish(context.Background(), "cam", c.args)
				if err != nil {
					b.Fatal(err)
				}
				cam, err := pipeline.NewCamera(pipeline.CameraConfig{ID: "cam", Source: r.srv.URL("cam")}, pipeline.Deps{Health: r.tr})
				if err != nil {
					b.Fatal(err)
				}
				rec := record.New(record.Config{Camera: "cam"}, r.store, cam.Hub().Subscribe(512))
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{}, 2)
				go func() { cam.Run(ctx); done <- struct{}{} }()
				go func() { rec.Run(ctx); done <- struct{}{} }()
				deadline := time.Now().Add(20 * time.Second)
				for time.Now().Before(deadline) {
					if cs := r.tr.Snapshot().Cameras; len(cs) == 1 && cs[0].State == health.StateRecording {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				time.Sleep(2 * time.Second)
				c0, w0 := cpuTime(), time.Now()
				time.Sleep(10 * time.Second)
				used, wall := cpuTime()-c0, time.Since(w0)
				cancel()
				<-done
				<-done
				p.Stop()
				b.ReportMetric(100*used.Seconds()/wall.Seconds(), "cpu-%")
			}
		})
	}
}
