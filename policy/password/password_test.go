package password

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func fast() Params { return Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16} }

func TestRoundTrip(t *testing.T) {
	h, err := New([]byte("correct horse"), fast())
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify([]byte("correct horse")) || h.Verify([]byte("correct hors")) {
		t.Fatal("verify")
	}
	s := h.PHC()
	if !strings.HasPrefix(s, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("PHC %q", s)
	}
	h2, err := Parse(s)
	if err != nil || h2.PHC() != s || !h2.Verify([]byte("correct horse")) {
		t.Fatalf("parse: %v", err)
	}
	if (Hash{}).Verify(nil) {
		t.Fatal("zero hash verified")
	}
}

// TestWebCompatible: a hash written by edge/web's format (same PHC layout and
// default parameters) parses and verifies here. The fixed string was made
// with m=19456,t=2,p=1 for the password "setup-pass".
func TestWebCompatible(t *testing.T) {
	h, err := New([]byte("setup-pass"), Default())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.PHC(), "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default PHC prefix: %s", h.PHC())
	}
	p, err := Parse(h.PHC())
	if err != nil || p.Params() != Default() {
		t.Fatalf("params %+v %v", p.Params(), err)
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := New([]byte("x"), fast())
	parts := strings.Split(good.PHC(), "$")
	bad := []string{
		"", "$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=0,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=300$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=064,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$t=1,m=64,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		"$argon2id$v=19$m=64,t=1,p=1$AA$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5] + "$",
	}
	for _, s := range bad {
		if _, err := Parse(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v", s, err)
		}
	}
}

// TestHashNeverPrinted: fmt and slog print "[redacted]", never the PHC form.
func TestHashNeverPrinted(t *testing.T) {
	h, _ := New([]byte("pw"), fast())
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "hash", h)
	out := buf.String() + fmt.Sprint(h) + fmt.Sprintf("%v %s", h, h)
	if strings.Contains(out, "argon2id") || strings.Contains(out, strings.Split(h.PHC(), "$")[5]) {
		t.Fatalf("hash printed: %s", out)
	}
}

// FuzzParse: the stored-hash decoder never panics and accepts only strings
// that it writes back identically.
func FuzzParse(f *testing.F) {
	h, _ := New([]byte("x"), fast())
	f.Add(h.PHC())
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			return
		}
		if h.PHC() != s {
			t.Fatalf("Parse(%q) accepted a non-canonical form (%q)", s, h.PHC())
		}
	})
}

// BenchmarkDefaultHash is the cost of one login check with the default
// parameters (the 0.5 s budget on a Pi 4-class core).
func BenchmarkDefaultVerify(b *testing.B) {
	h, _ := New([]byte("pw"), Default())
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		h.Verify([]byte("pw"))
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/login")
}
