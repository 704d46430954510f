package export

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/pipeline/pipelinetest"
	"github.com/edgerec/edgerec/edge/record"
	"github.com/edgerec/edgerec/storage"
)

// recordThrough records the test stream through the real segmenter
// (edge/record), leaving out frames [skipFrom, skipTo): a camera outage.
func recordThrough(t *testing.T, skipFrom, skipTo int) *storage.Store {
	t.Helper()
	aus := testAUs(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := storage.Provision(ctx, dir, storage.ProvisionOptions{RingSize: 32 << 20}); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(ctx, dir, storage.Options{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var units []media.AccessUnit
	for i, au := range aus {
		if i >= skipFrom && i < skipTo {
			continue
		}
		units = append(units, media.AccessUnit{Data: au, Key: isKey(au), Wall: frameTime(i)})
	}
	// Through a passthrough camera: the recorder takes only the
	// pipeline's video (issue 15).
	feed := pipelinetest.Units(t, units)
	rec := record.New(record.Config{Camera: "cam1", MaxSegment: 10 * time.Second, ClockSynced: func() bool { return true }}, s, feed)
	if err := rec.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// Issue 14 (R17): a short camera outage — 3 s, far below the 10 s clock
// jump that used to be the only cut — is on the record: two coverage spans,
// the gap with its length in the signed manifest, and verify prints it. A
// stream without an outage has no gap.
func TestR17OutageOnTheRecord(t *testing.T) {
	for _, c := range []struct {
		name             string
		skipFrom, skipTo int
		wantGaps         int
		minGap           float64
	}{
		{"3 s outage ending at a keyframe", 75, 120, 1, 3.0},   // frames 5.0 s .. 8.0 s missing; 120 is a keyframe
		{"3 s outage ending mid-GOP", 80, 125, 1, 3.0},         // resumes with P frames: the gap lasts until the next keyframe
		{"one lost frame before a keyframe", 119, 120, 1, 0.1}, // 2 intervals > 1.5: on the record
		{"no outage", 0, 0, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := recordThrough(t, c.skipFrom, c.skipTo)
			var buf bytes.Buffer
			m, err := Export(context.Background(), s, request(&allow{}), &buf, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Gaps) != c.wantGaps || len(m.Coverage) != c.wantGaps+1 {
				t.Fatalf("gaps %+v coverage %+v, want %d gaps", m.Gaps, m.Coverage, c.wantGaps)
			}
			for _, g := range m.Gaps {
				if g.Seconds < c.minGap-0.01 || math.Abs(g.To.Sub(g.From).Seconds()-g.Seconds) > 1e-6 {
					t.Fatalf("gap %+v shorter than %.1f s", g, c.minGap)
				}
			}
			key := newKey(t)
			doc, err := SignManifest(m, key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(doc, bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			sum := got.Summary()
			if want := "gap       "; (c.wantGaps > 0) != strings.Contains(sum, want) {
				t.Fatalf("verify summary does not show the gap:\n%s", sum)
			}
			t.Logf("%s", sum)
		})
	}
}
