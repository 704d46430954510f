package mask

import (
	"errors"
	"testing"
)

// Issue 15: masks are validated once, by NewSet; a Set is valid by
// construction and its Masker is built without checking again.
func TestNewSet(t *testing.T) {
	sq := func(name string, x float64) Mask {
		return Mask{Name: name, Polygon: []Point{{X: x, Y: 0.1}, {X: x + 0.2, Y: 0.1}, {X: x + 0.2, Y: 0.3}, {X: x, Y: 0.3}}}
	}
	s, err := NewSet([]Mask{sq("a", 0.1), {Name: "b", Style: StylePixelate, Polygon: sq("b", 0.5).Polygon}})
	if err != nil || s.Len() != 2 {
		t.Fatalf("valid set: %v (len %d)", err, s.Len())
	}
	m, err := s.Masker(Options{})
	if err != nil || m.Len() != 2 || len(m.fill) != 1 || len(m.pix) != 1 {
		t.Fatalf("masker: %v", err)
	}
	// The set is a copy: changing the input afterwards changes nothing.
	in := []Mask{sq("c", 0.1)}
	s2, _ := NewSet(in)
	in[0].Polygon[0].X = 5
	if s2.Masks()[0].Polygon[0].X != 0.1 {
		t.Fatal("the set shares the caller's polygon")
	}
	for name, c := range map[string]struct {
		ms    []Mask
		index int
	}{
		"outside":   {[]Mask{sq("a", 0.1), sq("b", 0.9)}, 1},
		"duplicate": {[]Mask{sq("a", 0.1), sq("a", 0.5)}, 1},
		"no name":   {[]Mask{sq("", 0.1)}, 0},
	} {
		_, err := NewSet(c.ms)
		var se *SetError
		var me *Error
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &se) || se.Index != c.index || !errors.As(err, &me) {
			t.Errorf("%s: %v", name, err)
		}
	}
	many := make([]Mask, MaxMasks+1)
	for i := range many {
		many[i] = sq(string(rune('a'+i%26))+string(rune('a'+i/26)), 0.1)
	}
	if _, err := NewSet(many); !errors.Is(err, ErrInvalid) {
		t.Fatalf("%d masks: %v", len(many), err)
	}
	if _, err := (Set{}).Masker(Options{Block: 3}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("odd block: %v", err)
	}
}
