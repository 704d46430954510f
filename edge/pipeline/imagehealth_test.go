package pipeline

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/media"
	"github.com/edgerec/edgerec/edge/source"
)

func flat(w, h int, y byte) *media.Frame {
	f, _ := media.NewFrame(w, h)
	for i := range f.Y {
		f.Y[i] = y
	}
	return f
}

// TestImageHealth: black, covered and frozen pictures are flagged after
// their hold time and cleared when the picture is live again (R10).
func TestImageHealth(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(f *media.Frame, d time.Duration) *media.Frame { f.Wall = t0.Add(d); return f }
	run := func(mk func(i int) *media.Frame, seconds int) []string {
		h := NewImageHealth(ImageHealthConfig{})
		var flags []string
		for i := 0; i <= seconds*5; i++ {
			flags = h.Observe(at(mk(i), time.Duration(i)*200*time.Millisecond))
		}
		return flags
	}
	so, err := source.Open(context.Background(), "test://pattern?width=320&height=240&fps=15", source.Options{Unpaced: true})
	if err != nil {
		t.Fatal(err)
	}
	src := so.(source.RawSource)
	live := func(int) *media.Frame { f, _ := src.Read(context.Background()); return f }
	var still *media.Frame
	frozen := func(int) *media.Frame {
		if still == nil {
			still, _ = src.Read(context.Background())
		}
		return still.Clone()
	}
	cases := []struct {
		name string
		mk   func(int) *media.Frame
		secs int
		want []string
	}{
		{"live", live, 15, nil},
		{"black", func(int) *media.Frame { return flat(320, 240, 16) }, 5, []string{ImageBlack}},
		{"covered grey", func(int) *media.Frame { return flat(320, 240, 120) }, 5, []string{ImageCovered}},
		{"frozen", frozen, 12, []string{ImageFrozen}},
		{"frozen not yet", frozen, 8, nil},
		{"black for 2 s only", func(int) *media.Frame { return flat(320, 240, 16) }, 2, nil},
	}
	for _, c := range cases {
		got := run(c.mk, c.secs)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: flags %v, want %v", c.name, got, c.want)
		}
	}
	// Recovery: frozen then live clears the flag.
	h := NewImageHealth(ImageHealthConfig{})
	for i := 0; i <= 60; i++ {
		h.Observe(at(frozen(i), time.Duration(i)*200*time.Millisecond))
	}
	if got := h.Observe(at(live(0), 13*time.Second)); len(got) != 0 {
		t.Fatalf("still flagged after live picture: %v", got)
	}
}
