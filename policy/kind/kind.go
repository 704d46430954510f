package kind

import "errors"

// Kind is a class of error.
type Kind uint8

// Kinds. Internal (the zero value) is everything not classified: a caller
// must not show its text to a user.
const (
	Internal    Kind = iota
	NotFound         // the thing named does not exist (or is not visible to the caller)
	Forbidden        // the caller may not do this
	Invalid          // the input is malformed
	Conflict         // the state changed or already exists
	Refused          // well-formed, but a rule refuses it (a prohibited zone, a refused camera)
	TooMany          // a per-user limit
	Unavailable      // a device-wide limit, or a part that is not running
)

var names = [...]string{"internal", "not_found", "forbidden", "invalid", "conflict", "refused", "too_many", "unavailable"}

func (k Kind) String() string {
	if int(k) < len(names) {
		return names[k]
	}
	return "internal"
}

// Error is a sentinel error with a kind. Its message is public: written
// for the person who caused it.
type Error struct {
	k   Kind
	msg string
}

// New returns a sentinel error of kind k.
func New(k Kind, msg string) error { return &Error{k: k, msg: msg} }

func (e *Error) Error() string { return e.msg }

// Kind returns the error's kind.
func (e *Error) Kind() Kind { return e.k }

// Of returns the kind of the first classified error in err's chain
// (Internal if none).
func Of(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.k
	}
	return Internal
}
