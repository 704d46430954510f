package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// R1: zones that must never be recorded are refused with the reason.
func TestR1CheckZone(t *testing.T) {
	school := Site{School: true}
	for _, tc := range []struct {
		zone     ZoneType
		site     Site
		sentinel error // nil = allowed
		want     string
	}{
		{"entrance", Site{}, nil, ""},
		{"cash_desk", school, nil, ""},
		{"classroom", Site{}, nil, ""}, // allowed outside schools
		{"toilet", Site{}, ErrProhibitedZone, `zone "toilet" is prohibited: recording in toilets is never allowed (R1)`},
		{"changing_room", Site{}, ErrProhibitedZone, `zone "changing_room" is prohibited: recording in changing rooms is never allowed (R1)`},
		{"shower", Site{}, ErrProhibitedZone, "showers"},
		{"dormitory", Site{}, ErrProhibitedZone, "dormitories"},
		{"bedroom", Site{}, ErrProhibitedZone, "bedrooms"},
		{"hotel_room", Site{}, ErrProhibitedZone, "hotel rooms"},
		{"nursing_room", Site{}, ErrProhibitedZone, "nursing rooms"},
		{"classroom", school, ErrProhibitedZone, `zone "classroom" is prohibited: recording classrooms at a school is not allowed (R1)`},
		{"office", Site{ExtraProhibited: []ZoneType{"office"}}, ErrProhibitedZone, `zone "office" is prohibited: the site policy forbids it (prohibited_zones)`},
		{"toilet", Site{ExtraProhibited: []ZoneType{"toilet"}}, ErrProhibitedZone, "never allowed"},
		{"Toilet", Site{}, ErrUnknownZone, `unknown zone type "Toilet" (known: bedroom, cash_desk, `},
		{"", Site{}, ErrUnknownZone, `unknown zone type ""`},
		{"kitchen", Site{}, ErrUnknownZone, "warehouse)"},
	} {
		t.Run(string(tc.zone), func(t *testing.T) {
			err := CheckZone(tc.zone, tc.site)
			if tc.sentinel == nil {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v containing %q", err, tc.sentinel, tc.want)
			}
		})
	}
}

// R1: every known zone is either allowed or refused, and the list is sorted.
func TestR1KnownZones(t *testing.T) {
	z := KnownZones()
	for i := range z {
		if i > 0 && z[i-1] >= z[i] {
			t.Fatalf("not sorted/unique at %q", z[i])
		}
		if !Known(z[i]) {
			t.Fatalf("%q not known", z[i])
		}
		if err := CheckZone(z[i], Site{}); err != nil && !errors.Is(err, ErrProhibitedZone) {
			t.Fatalf("%q: %v", z[i], err)
		}
	}
}

// R6: retention floor and ceiling.
func TestR6RetentionValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Retention
		want string // "" = valid
	}{
		{"defaults", Retention{}, ""},
		{"explicit", Retention{30 * Day, 90 * Day}, ""},
		{"equal", Retention{60 * Day, 60 * Day}, ""},
		{"max", Retention{Day, MaxRetention}, ""},
		{"floor-only", Retention{Floor: 7 * Day}, ""},
		{"negative-floor", Retention{-Day, 90 * Day}, "retention floor -1d must be positive"},
		{"negative-ceiling", Retention{Day, -Day}, "retention ceiling -1d must be positive"},
		{"ceiling-below-floor", Retention{60 * Day, 30 * Day}, "retention ceiling 30d is below the floor 60d"},
		{"ceiling-below-default-floor", Retention{Ceiling: 10 * Day}, "retention ceiling 10d is below the floor 30d"},
		{"absurd", Retention{30 * Day, 401 * Day}, "retention ceiling 401d is above the maximum of 400d"},
		{"forever", Retention{30 * Day, time.Duration(1<<63 - 1)}, "above the maximum of 400d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRetention) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if d := (Retention{}).WithDefaults(); d.Floor != 30*Day || d.Ceiling != 90*Day {
		t.Fatalf("defaults %v", d)
	}
}

// R6: a camera's retention must lie within [floor, ceiling]; 0 = floor.
func TestR6RetentionClamp(t *testing.T) {
	r := Retention{30 * Day, 90 * Day}
	for _, tc := range []struct {
		name   string
		camera time.Duration
		got    time.Duration
		want   string
	}{
		{"zero-uses-floor", 0, 30 * Day, ""},
		{"floor", 30 * Day, 30 * Day, ""},
		{"inside", 45 * Day, 45 * Day, ""},
		{"ceiling", 90 * Day, 90 * Day, ""},
		{"below", 7 * Day, 0, "retention 7d is below the policy floor of 30d (R6)"},
		{"above", 91 * Day, 0, "retention 91d is above the policy ceiling of 90d (R6)"},
		{"hours", 36 * time.Hour, 0, "retention 36h0m0s is below the policy floor of 30d"},
		{"negative", -Day, 0, "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Clamp(tc.camera)
			if tc.want == "" {
				if err != nil || got != tc.got {
					t.Fatalf("got %v, %v; want %v", got, err, tc.got)
				}
				return
			}
			if !errors.Is(err, ErrRetention) || err.Error() != tc.want && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := (Retention{60 * Day, 30 * Day}).Clamp(45 * Day); err == nil {
		t.Fatal("Clamp with an invalid policy must fail")
	}
}
