package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/mask"
	"github.com/edgerec/edgerec/edge/source"
)

// TestSelfTestMasksReadBackUniform is the installer's selftest as a test:
// capture → mask → encode → decode, and every decoded picture's masks are
// checked by the independent oracle in verify.go (R2, D3).
func TestSelfTestMasksReadBackUniform(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := SelfTest(ctx, SelfTestConfig{Frames: 45, Masks: testMasks()})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	if !rep.OK() {
		t.Fatalf("selftest failed: %s", rep.MaskFailure)
	}
	if rep.Decoded < 44 || rep.Keyframes < 1 {
		t.Fatalf("decoded %d of %d, %d keyframes", rep.Decoded, rep.Frames, rep.Keyframes)
	}
	for _, m := range rep.Worst {
		if m.Pixels == 0 && m.Cells == 0 {
			t.Fatalf("mask %q: nothing checked", m.Mask)
		}
	}
}

// TestMaskCheckCatchesUnmaskedPicture makes sure the oracle is not vacuous:
// the same pipeline without masks must fail the mask check.
func TestMaskCheckCatchesUnmaskedPicture(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	so, err := source.Open(ctx, "test://pattern?width=640&height=360&fps=15", source.Options{Unpaced: true})
	if err != nil {
		t.Fatal(err)
	}
	src := so.(source.RawSource)
	f, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res := MaskCheck{}.Check(f, testMasks())
	if res.OK {
		t.Fatalf("an unmasked picture passed the mask check: %+v", res)
	}
	for _, m := range res.Masks {
		if m.OK {
			t.Errorf("mask %q passed on an unmasked picture: %s", m.Mask, m.Description)
		}
	}
	// And the same picture, masked, passes (no codec in between).
	masker, err := mask.New(testMasks(), mask.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res := (MaskCheck{Tolerance: 1}).Check(masker.Apply(f).Frame(), testMasks()); !res.OK {
		t.Fatalf("masked picture failed: %+v", res.Masks)
	}
}

// testMasks: a fill on the left and a pixelation on the right, edges off
// the macroblock grid on purpose.
func testMasks() []mask.Mask {
	return []mask.Mask{
		{Name: "window", Style: mask.StyleFill, Polygon: []mask.Point{{X: 0.05, Y: 0.10}, {X: 0.35, Y: 0.10}, {X: 0.35, Y: 0.45}, {X: 0.05, Y: 0.45}}},
		{Name: "door", Style: mask.StylePixelate, Polygon: []mask.Point{{X: 0.65, Y: 0.50}, {X: 0.90, Y: 0.50}, {X: 0.90, Y: 0.90}, {X: 0.65, Y: 0.90}}},
	}
}

// mustSet is ms as a validated set (test masks are valid).
func mustSet(ms []mask.Mask) mask.Set {
	s, err := mask.NewSet(ms)
	if err != nil {
		panic(err)
	}
	return s
}
