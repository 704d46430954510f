package schedule

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func at(t *testing.T, loc *time.Location, v string) time.Time {
	t.Helper()
	x, err := time.ParseInLocation("2006-01-02 15:04", v, loc)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestActive(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	week := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	s, err := New([]Window{
		{Days: week, From: 8 * 60, To: 18 * 60},
		{Days: []time.Weekday{time.Friday}, From: 22 * 60, To: 6 * 60}, // into Saturday
		{Days: []time.Weekday{time.Sunday}, From: 0, To: 24 * 60},
	}, berlin)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    string
		want bool
	}{
		{"2026-12-07 07:59", false}, // Monday
		{"2026-12-07 08:00", true},
		{"2026-12-07 17:59", true},
		{"2026-12-07 18:00", false},
		{"2026-12-11 23:00", true},  // Friday night
		{"2026-12-12 05:59", true},  // Saturday morning, same window
		{"2026-12-12 06:00", false}, // Saturday
		{"2026-12-13 12:00", true},  // Sunday, whole day
		{"2026-12-14 00:00", false}, // Monday midnight: Sunday's 24:00 is exclusive
	} {
		if got := s.Active(at(t, berlin, c.v)); got != c.want {
			t.Errorf("Active(%s) = %v, want %v", c.v, got, c.want)
		}
	}
	// The zone is the site's: 08:00 Berlin is 07:00 UTC in winter.
	if !s.Active(time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)) || s.Active(time.Date(2026, 12, 7, 6, 59, 0, 0, time.UTC)) {
		t.Error("the window does not follow Europe/Berlin")
	}
	var always *Schedule
	if !always.Active(time.Now()) || always.Off(time.Now(), time.Now().Add(time.Hour)) != nil {
		t.Error("a nil schedule is not always on")
	}
}

// DST: the windows follow the local clock.
func TestActiveAcrossDST(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	all := []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	s, err := New([]Window{{Days: all, From: 2*60 + 30, To: 4 * 60}}, berlin)
	if err != nil {
		t.Fatal(err)
	}
	// 2026-03-29: 02:00 → 03:00 (02:30 does not exist): on from 03:00 local = 01:00 UTC.
	if s.Active(time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC)) || !s.Active(time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)) {
		t.Error("spring forward: the window should start at the first local minute after the skipped hour")
	}
	// 2026-10-25: 03:00 → 02:00 (02:30 happens twice): on at both.
	if !s.Active(time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)) || !s.Active(time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)) {
		t.Error("fall back: both 02:30s are inside the window")
	}
	off := s.Off(time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 4, 0, 0, 0, time.UTC))
	// 00:00Z is 02:00 CEST: off to 02:30 CEST (00:30Z), on to 03:00 CEST
	// = 02:00 CET (01:00Z), off again to 02:30 CET (01:30Z) — the local
	// clock passes 02:00–02:30 twice — on to 04:00 CET (03:00Z), off.
	u := func(h, m int) time.Time { return time.Date(2026, 10, 25, h, m, 0, 0, time.UTC) }
	want := []Span{{u(0, 0), u(0, 30)}, {u(1, 0), u(1, 30)}, {u(3, 0), u(4, 0)}}
	if len(off) != len(want) {
		t.Fatalf("off spans %v, want %v", off, want)
	}
	for i := range want {
		if !off[i].From.Equal(want[i].From) || !off[i].To.Equal(want[i].To) {
			t.Fatalf("off spans %v, want %v", off, want)
		}
	}
}

func TestOff(t *testing.T) {
	s, err := New([]Window{{Days: []time.Weekday{time.Monday}, From: 9 * 60, To: 10 * 60}}, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 7, 8, 30, 15, 0, time.UTC) // Monday
	off := s.Off(from, from.Add(2*time.Hour))
	want := []Span{{from, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}, {time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), from.Add(2 * time.Hour)}}
	if len(off) != 2 || off[0] != want[0] || off[1] != want[1] {
		t.Fatalf("Off = %v, want %v", off, want)
	}
}

// Bad input: one clear error naming the window.
func TestNewRefuses(t *testing.T) {
	mon := []time.Weekday{time.Monday}
	for _, c := range []struct {
		name string
		ws   []Window
		want string
	}{
		{"overlap", []Window{{Days: mon, From: 8 * 60, To: 12 * 60}, {Days: mon, From: 11 * 60, To: 13 * 60}}, "window 1: overlaps window 0 on mon 11:00"},
		{"overlap across midnight", []Window{{Days: []time.Weekday{time.Sunday}, From: 22 * 60, To: 2 * 60}, {Days: mon, From: 60, To: 3 * 60}}, "window 1: overlaps window 0 on mon 01:00"},
		{"overlap across the week end", []Window{{Days: []time.Weekday{time.Saturday}, From: 23 * 60, To: 60}, {Days: []time.Weekday{time.Sunday}, From: 0, To: 30}}, "window 1: overlaps window 0 on sun 00:00"},
		{"empty", []Window{{Days: mon, From: 8 * 60, To: 8 * 60}}, "window 0: from and to are both 08:00"},
		{"no days", []Window{{From: 0, To: 60}}, "window 0: no days"},
		{"day twice", []Window{{Days: []time.Weekday{time.Monday, time.Monday}, From: 0, To: 60}}, "window 0: mon named twice"},
		{"bad day", []Window{{Days: []time.Weekday{9}, From: 0, To: 60}}, "window 0: day 9 is not a weekday"},
		{"bad to", []Window{{Days: mon, From: 0, To: 1500}}, "window 0: to 1500 is not a time of day"},
	} {
		_, err := New(c.ws, nil)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	for v, want := range map[string]int{"00:00": 0, "08:30": 510, "24:00": 1440, "23:59": 1439} {
		if got, err := ParseClock(v); err != nil || got != want {
			t.Errorf("ParseClock(%q) = %d, %v", v, got, err)
		}
	}
	for _, v := range []string{"", "8:30", "24:01", "25:00", "12:60", "-1:00", "+1:00", "ab:cd", "12:3", "12-30", "12:30:00"} {
		if _, err := ParseClock(v); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseClock(%q): %v, want ErrInvalid", v, err)
		}
	}
	for v, want := range map[string]time.Weekday{"mon": time.Monday, "Sunday": time.Sunday, "SAT": time.Saturday} {
		if got, err := ParseDay(v); err != nil || got != want {
			t.Errorf("ParseDay(%q) = %v, %v", v, got, err)
		}
	}
	if _, err := ParseDay("mo"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseDay(mo): %v", err)
	}
}

func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"00:00", "24:00", "8:30", "+1:00", "12:60", "99:99", "\x00\x00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, err := ParseClock(v)
		if err != nil {
			return
		}
		if m < 0 || m > 1440 || Clock(m) != v {
			t.Fatalf("ParseClock(%q) = %d (formats as %q)", v, m, Clock(m))
		}
	})
}

// Reduces: a schedule added to an always-recording camera, a window
// shortened or a day dropped reduce; removing the schedule, widening a
// window or adding a day do not (R27).
func TestReduces(t *testing.T) {
	mk := func(ws ...Window) *Schedule {
		s, err := New(ws, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	week := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	office := mk(Window{Days: week, From: 8 * 60, To: 19 * 60})
	for name, c := range map[string]struct {
		before, after *Schedule
		want          bool
	}{
		"always → office":        {nil, office, true},
		"office → always":        {office, nil, false},
		"office → same":          {office, mk(Window{Days: week, From: 8 * 60, To: 19 * 60}), false},
		"office → shorter":       {office, mk(Window{Days: week, From: 8 * 60, To: 18 * 60}), true},
		"office → wider":         {office, mk(Window{Days: week, From: 7 * 60, To: 20 * 60}), false},
		"office → one day fewer": {office, mk(Window{Days: week[:4], From: 8 * 60, To: 19 * 60}), true},
		"office → plus saturday": {office, mk(Window{Days: append(slices.Clone(week), time.Saturday), From: 8 * 60, To: 19 * 60}), false},
	} {
		if got := Reduces(c.before, c.after); got != c.want {
			t.Errorf("%s: Reduces = %v, want %v", name, got, c.want)
		}
	}
}
