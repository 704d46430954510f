package mask

import (
	"fmt"
	"math"

	"github.com/edgerec/edgerec/policy/kind"
)

// Style is how a mask hides what it covers.
type Style string

// Mask styles. The empty style means StyleFill.
const (
	StyleFill     Style = "fill"
	StylePixelate Style = "pixelate"
)

// MaxPoints is the largest number of vertices a mask polygon may have.
// It bounds the quadratic self-intersection check and the rasterizer.
const MaxPoints = 256

// ErrInvalid is wrapped by every error Validate and New return for a bad
// mask or bad options.
var ErrInvalid = kind.New(kind.Invalid, "invalid mask")

// Point is a polygon vertex in normalized picture coordinates: (0,0) is the
// top-left corner of the picture and (1,1) the bottom-right one, so a mask
// survives a resolution change.
type Point struct{ X, Y float64 }

// Mask is one named privacy polygon.
type Mask struct {
	Name    string
	Style   Style // "" = fill
	Polygon []Point
}

// Error describes what is wrong with one mask. Point is the 0-based index of
// the offending vertex, or -1 when the problem is not about one vertex.
// Field is "name", "style" or "polygon". Messages count points from 1.
type Error struct {
	Mask  string
	Field string
	Point int
	Msg   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("mask %q: %s", e.Mask, e.Msg)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

func maskErr(m Mask, field string, point int, format string, args ...any) error {
	return &Error{Mask: m.Name, Field: field, Point: point, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks one mask: a non-empty name, a known style, 3 to MaxPoints
// vertices, every coordinate a number in [0,1], no repeated consecutive
// vertex, no edge crossing or touching a non-adjacent edge, no edge folding
// back over its neighbour, and a non-zero area. The error (an *Error) names
// the mask and the offending point or field; points count from 1.
func Validate(m Mask) error {
	if m.Name == "" {
		return maskErr(m, "name", -1, "name is empty")
	}
	switch m.Style {
	case "", StyleFill, StylePixelate:
	default:
		return maskErr(m, "style", -1, "unknown style %q (want fill or pixelate)", string(m.Style))
	}
	p := m.Polygon
	n := len(p)
	if n < 3 {
		return maskErr(m, "polygon", -1, "fewer than 3 points (has %d)", n)
	}
	if n > MaxPoints {
		return maskErr(m, "polygon", -1, "too many points (%d, at most %d)", n, MaxPoints)
	}
	for i, q := range p {
		if msg := coordProblem(q.X, "x"); msg != "" {
			return maskErr(m, "polygon", i, "point %d %s: %s", i+1, fmtPoint(q), msg)
		}
		if msg := coordProblem(q.Y, "y"); msg != "" {
			return maskErr(m, "polygon", i, "point %d %s: %s", i+1, fmtPoint(q), msg)
		}
	}
	for i := range n {
		j := (i + 1) % n
		if p[i] == p[j] {
			if j == 0 {
				return maskErr(m, "polygon", i, "point %d %s repeats point 1 (polygons close by themselves; drop the last point)", i+1, fmtPoint(p[i]))
			}
			return maskErr(m, "polygon", j, "point %d %s repeats point %d", j+1, fmtPoint(p[j]), i+1)
		}
	}
	if collinear(p) {
		return maskErr(m, "polygon", -1, "zero area (all points on one line)")
	}
	// Adjacent edges (a,b),(b,c) must not fold back over each other.
	for i := range n {
		a, b, c := p[i], p[(i+1)%n], p[(i+2)%n]
		if cross(a, b, c) == 0 && (b.X-a.X)*(c.X-b.X)+(b.Y-a.Y)*(c.Y-b.Y) < 0 {
			k := (i+1)%n + 1
			return maskErr(m, "polygon", (i+1)%n, "point %d %s: polygon folds back on itself", k, fmtPoint(b))
		}
	}
	// Non-adjacent edges must not cross or touch.
	for i := range n {
		a1, a2 := p[i], p[(i+1)%n]
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				continue // adjacent through the closing edge
			}
			b1, b2 := p[j], p[(j+1)%n]
			if segmentsTouch(a1, a2, b1, b2) {
				return maskErr(m, "polygon", j, "self-intersecting: edge from point %d to point %d crosses edge from point %d to point %d",
					i+1, (i+1)%n+1, j+1, (j+1)%n+1)
			}
		}
	}
	if a := math.Abs(area(p)); a < minArea {
		return maskErr(m, "polygon", -1, "zero area (%.3g of the picture)", a)
	}
	return nil
}

// minArea is the smallest accepted polygon area, as a fraction of the
// picture. Below it the polygon is degenerate (collinear points).
const minArea = 1e-9

func coordProblem(v float64, axis string) string {
	switch {
	case math.IsNaN(v):
		return axis + " is not a number"
	case v < 0 || v > 1:
		return axis + " outside 0..1"
	}
	return ""
}

func fmtPoint(q Point) string { return fmt.Sprintf("(%.2f, %.2f)", q.X, q.Y) }

// collinear reports whether all points lie on the line through p[0], p[1]
// (which differ: repeats were refused before).
func collinear(p []Point) bool {
	for _, q := range p[2:] {
		if cross(p[0], p[1], q) != 0 {
			return false
		}
	}
	return true
}

// cross is the z component of (b-a)×(c-a).
func cross(a, b, c Point) float64 {
	return (b.X-a.X)*(c.Y-a.Y) - (b.Y-a.Y)*(c.X-a.X)
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// onSegment reports whether c, known to be collinear with a-b, lies within
// the bounding box of a-b.
func onSegment(a, b, c Point) bool {
	return math.Min(a.X, b.X) <= c.X && c.X <= math.Max(a.X, b.X) &&
		math.Min(a.Y, b.Y) <= c.Y && c.Y <= math.Max(a.Y, b.Y)
}

// segmentsTouch reports whether closed segments a1-a2 and b1-b2 share a point.
func segmentsTouch(a1, a2, b1, b2 Point) bool {
	d1 := sign(cross(b1, b2, a1))
	d2 := sign(cross(b1, b2, a2))
	d3 := sign(cross(a1, a2, b1))
	d4 := sign(cross(a1, a2, b2))
	if d1*d2 < 0 && d3*d4 < 0 {
		return true
	}
	return (d1 == 0 && onSegment(b1, b2, a1)) ||
		(d2 == 0 && onSegment(b1, b2, a2)) ||
		(d3 == 0 && onSegment(a1, a2, b1)) ||
		(d4 == 0 && onSegment(a1, a2, b2))
}

// area is the signed shoelace area in normalized units.
func area(p []Point) float64 {
	var s float64
	for i := range p {
		j := (i + 1) % len(p)
		s += p[i].X*p[j].Y - p[j].X*p[i].Y
	}
	return s / 2
}
