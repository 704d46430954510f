package schedule

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every error of New, ParseClock and ParseDay.
var ErrInvalid = errors.New("invalid schedule")

// Window is one weekly recording window in local time.
type Window struct {
	Days []time.Weekday
	// From and To are minutes after local midnight, 0..1440; To ≤ From
	// means the window ends the next day at To.
	From, To int
}

// Schedule is a camera's recording windows.
type Schedule struct {
	loc *time.Location
	// on[m] reports whether minute m of the week (0 = Sunday 00:00 local)
	// is inside a window.
	on [minutesPerWeek]bool
}

// Span is a half-open time range [From, To).
type Span struct{ From, To time.Time }

const (
	minutesPerDay  = 24 * 60
	minutesPerWeek = 7 * minutesPerDay
)

// New checks the windows and returns their schedule in loc (nil loc =
// UTC). No windows means always: New returns nil, nil.
func New(ws []Window, loc *time.Location) (*Schedule, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	s := &Schedule{loc: loc}
	owner := make([]int16, minutesPerWeek) // window index+1 holding each minute
	for i, w := range ws {
		if err := w.check(); err != nil {
			return nil, &Error{Window: i, Overlaps: -1, Msg: err.Error()}
		}
		for _, d := range w.Days {
			start := int(d)*minutesPerDay + w.From
			n := w.To - w.From
			if w.To <= w.From {
				n += minutesPerDay
			}
			for k := range n {
				m := (start + k) % minutesPerWeek
				if o := owner[m]; o != 0 {
					where := dayName(time.Weekday(m/minutesPerDay)) + " " + Clock(m%minutesPerDay)
					return nil, &Error{Window: i, Overlaps: int(o - 1), At: where, Msg: fmt.Sprintf("overlaps window %d on %s", o-1, where)}
				}
				owner[m] = int16(i + 1)
				s.on[m] = true
			}
		}
	}
	return s, nil
}

func (w Window) check() error {
	if len(w.Days) == 0 {
		return errors.New("no days")
	}
	seen := map[time.Weekday]bool{}
	for _, d := range w.Days {
		if d < time.Sunday || d > time.Saturday {
			return fmt.Errorf("day %d is not a weekday", d)
		}
		if seen[d] {
			return fmt.Errorf("%s named twice", dayName(d))
		}
		seen[d] = true
	}
	switch {
	case w.From < 0 || w.From >= minutesPerDay:
		return fmt.Errorf("from %d is not a time of day", w.From)
	case w.To < 0 || w.To > minutesPerDay:
		return fmt.Errorf("to %d is not a time of day", w.To)
	case w.From == w.To:
		return fmt.Errorf("from and to are both %s (for a whole day write 00:00–24:00)", Clock(w.From))
	}
	return nil
}

// Error is a schedule error at a window (0-based).
type Error struct {
	Window int
	// Overlaps is the earlier window this one overlaps (-1: another
	// problem), At the first shared minute ("mon 11:00").
	Overlaps int
	At       string
	Msg      string
}

func (e *Error) Error() string { return fmt.Sprintf("window %d: %s", e.Window, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// Active reports whether the camera records at t.
func (s *Schedule) Active(t time.Time) bool {
	if s == nil {
		return true
	}
	return s.on[s.minute(t)]
}

func (s *Schedule) minute(t time.Time) int {
	l := t.In(s.loc)
	return int(l.Weekday())*minutesPerDay + l.Hour()*60 + l.Minute()
}

// Off returns the spans of [from, to) outside every window, in order
// (empty for a nil schedule). Resolution: one minute of local time.
func (s *Schedule) Off(from, to time.Time) []Span {
	if s == nil || !from.Before(to) {
		return nil
	}
	var out []Span
	var cur *Span
	for t := from; t.Before(to); {
		next := t.Truncate(time.Minute).Add(time.Minute)
		if next.After(to) {
			next = to
		}
		if !s.Active(t) {
			if cur == nil {
				out = append(out, Span{From: t})
				cur = &out[len(out)-1]
			}
			cur.To = next
		} else {
			cur = nil
		}
		t = next
	}
	return out
}

// ParseClock reads "HH:MM" (00:00..24:00) as minutes after midnight.
func ParseClock(v string) (int, error) {
	h, m, ok := strings.Cut(v, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%w: %q is not HH:MM", ErrInvalid, v)
	}
	for _, c := range h + m {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q is not HH:MM", ErrInvalid, v)
		}
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	if mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%w: %q is not a time between 00:00 and 24:00", ErrInvalid, v)
	}
	return hh*60 + mm, nil
}

// Clock formats minutes after midnight as HH:MM.
func Clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

var days = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseDay reads a weekday: its English three-letter abbreviation or full
// name, any case.
func ParseDay(v string) (time.Weekday, error) {
	l := strings.ToLower(strings.TrimSpace(v))
	for i, d := range days {
		if l == d || l == strings.ToLower(time.Weekday(i).String()) {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q is not a weekday (mon, tue, wed, thu, fri, sat, sun)", ErrInvalid, v)
}

func dayName(d time.Weekday) string { return days[d] }

// Days formats weekdays as their abbreviations, in week order.
func Days(ds []time.Weekday) []string {
	s := slices.Clone(ds)
	slices.Sort(s)
	out := make([]string, len(s))
	for i, d := range s {
		out[i] = dayName(d)
	}
	return out
}

// Reduces reports whether after records less than before: some minute of
// the week inside before's windows is outside after's (nil = always). Both
// are read in local time, so the zone does not matter. A reduction stops
// recording, which is a coverage change that needs a second person (R27).
func Reduces(before, after *Schedule) bool {
	if after == nil {
		return false
	}
	for m := range minutesPerWeek {
		if (before == nil || before.on[m]) && !after.on[m] {
			return true
		}
	}
	return false
}
