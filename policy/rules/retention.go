package rules

import (
	"errors"
	"fmt"
	"time"
)

// Day is 24 hours; retention is counted in days.
const Day = 24 * time.Hour

// Retention defaults and the absolute ceiling (R6).
const (
	DefaultFloor   = 30 * Day
	DefaultCeiling = 90 * Day
	MaxRetention   = 400 * Day
)

// ErrRetention is wrapped by every retention error.
var ErrRetention = errors.New("retention out of policy")

// Retention is the policy's retention floor and ceiling (R6). The zero value
// means the defaults (see WithDefaults).
type Retention struct{ Floor, Ceiling time.Duration }

// WithDefaults fills a zero Floor or Ceiling with DefaultFloor or
// DefaultCeiling.
func (r Retention) WithDefaults() Retention {
	if r.Floor == 0 {
		r.Floor = DefaultFloor
	}
	if r.Ceiling == 0 {
		r.Ceiling = DefaultCeiling
	}
	return r
}

// Validate checks 0 < Floor <= Ceiling <= MaxRetention. Zero fields mean
// the defaults.
func (r Retention) Validate() error {
	r = r.WithDefaults()
	switch {
	case r.Floor < 0:
		return ruleErr(ErrRetention, "retention floor %s must be positive", days(r.Floor))
	case r.Ceiling < 0:
		return ruleErr(ErrRetention, "retention ceiling %s must be positive", days(r.Ceiling))
	case r.Ceiling > MaxRetention:
		return ruleErr(ErrRetention, "retention ceiling %s is above the maximum of %s (footage must not be kept indefinitely, R6)", days(r.Ceiling), days(MaxRetention))
	case r.Ceiling < r.Floor:
		return ruleErr(ErrRetention, "retention ceiling %s is below the floor %s", days(r.Ceiling), days(r.Floor))
	}
	return nil
}

// Clamp returns the retention to apply to a camera that asks for camera.
// 0 means "use the floor". A value below the floor or above the ceiling is
// an error naming the bound; negative values are errors. r must be valid.
func (r Retention) Clamp(camera time.Duration) (time.Duration, error) {
	r = r.WithDefaults()
	if err := r.Validate(); err != nil {
		return 0, err
	}
	switch {
	case camera == 0:
		return r.Floor, nil
	case camera < 0:
		return 0, ruleErr(ErrRetention, "retention %s must be positive", days(camera))
	case camera < r.Floor:
		return 0, ruleErr(ErrRetention, "retention %s is below the policy floor of %s (R6)", days(camera), days(r.Floor))
	case camera > r.Ceiling:
		return 0, ruleErr(ErrRetention, "retention %s is above the policy ceiling of %s (R6)", days(camera), days(r.Ceiling))
	}
	return camera, nil
}

// days formats d as whole days when it is a whole number of days, else as a
// Go duration.
func days(d time.Duration) string {
	if d%Day == 0 {
		return fmt.Sprintf("%dd", d/Day)
	}
	return d.String()
}
