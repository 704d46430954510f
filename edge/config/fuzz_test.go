package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; every error is a one-line *Error that
// names the file and wraps ErrInvalid; an accepted config passes Validate
// and survives Marshal → Parse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("device: {id: x}\n"))
	f.Add([]byte("cameras:\n  - id: a\n    masks: [{name: m, polygon: [[0,0],[1,0],[1,1]]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "f.yaml")
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "f.yaml: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("bad error %q", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		_ = c.String()
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if _, err := Parse(out, "again.yaml"); err != nil {
			t.Fatalf("re-parse of Marshal output: %v\n%s", err, out)
		}
	})
}
