package mask

import "fmt"

// MaxMasks bounds the masks of one camera.
const MaxMasks = 32

// Set is a camera's masks, validated: every mask passes Validate, names
// are unique, at most MaxMasks. Only NewSet makes one, so whoever holds a
// Set holds valid masks: the inputs validate once at their boundary (the
// LAN page's mask editor, the config file) and everything downstream (the
// camera manager, the pipeline, its Masker) takes the Set and does not
// check again (issue 15). The zero Set has no masks.
type Set struct{ ms []Mask }

// SetError says which mask of a set is wrong (Index counts from 0); it
// unwraps to the mask's *Error.
type SetError struct {
	Index int
	Err   error
}

func (e *SetError) Error() string { return e.Err.Error() }
func (e *SetError) Unwrap() error { return e.Err }

// NewSet validates ms and returns them as a Set (a copy).
func NewSet(ms []Mask) (Set, error) {
	if len(ms) > MaxMasks {
		return Set{}, fmt.Errorf("mask: more than %d masks: %w", MaxMasks, ErrInvalid)
	}
	seen := make(map[string]bool, len(ms))
	out := make([]Mask, 0, len(ms))
	for i, m := range ms {
		if err := Validate(m); err != nil {
			return Set{}, &SetError{Index: i, Err: err}
		}
		if seen[m.Name] {
			return Set{}, &SetError{Index: i, Err: maskErr(m, "name", -1, "name used by more than one mask")}
		}
		seen[m.Name] = true
		m.Polygon = append([]Point(nil), m.Polygon...)
		out = append(out, m)
	}
	return Set{ms: out}, nil
}

// Masks returns the masks (a copy of the list; the polygons are shared and
// must not be changed).
func (s Set) Masks() []Mask { return append([]Mask(nil), s.ms...) }

// Len is the number of masks.
func (s Set) Len() int { return len(s.ms) }

// Masker returns a Masker for the set; only o is checked (the masks were
// validated by NewSet).
func (s Set) Masker(o Options) (*Masker, error) {
	if o.FillY == 0 && o.FillU == 0 && o.FillV == 0 {
		o.FillY, o.FillU, o.FillV = DefaultFillY, DefaultFillU, DefaultFillV
	}
	if o.Block == 0 {
		o.Block = DefaultBlock
	}
	if o.Block < 2 || o.Block > maxBlock || o.Block%2 != 0 {
		return nil, fmt.Errorf("mask: pixelate block %d: must be even and in 2..%d: %w", o.Block, maxBlock, ErrInvalid)
	}
	o.Block = SnapBlock(o.Block)
	m := &Masker{o: o, n: len(s.ms)}
	for _, k := range s.ms {
		if k.Style == StylePixelate {
			m.pix = append(m.pix, k.Polygon)
		} else {
			m.fill = append(m.fill, k.Polygon)
		}
	}
	return m, nil
}
