package source

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		url  string
		want error
		text string
	}{
		{"foo://cam", ErrUnknownScheme, `"foo"`},
		{"/dev/video0", ErrUnknownScheme, "missing scheme"},
		{"v4l2:///dev/video0?colour=red", ErrBadURL, "unknown parameter"},
		{"test://other", ErrBadURL, "test://pattern"},
		{"test://pattern?width=33&height=20", ErrBadURL, "even"},
		{"test://pattern?width=abc", ErrBadURL, "width"},
		{"test://pattern?fps=0", ErrBadURL, "fps"},
		{"test://pattern?colour=red", ErrBadURL, "unknown parameter"},
		{"rtsp://user:secret@[::1", ErrBadURL, ""},
	} {
		_, err := Open(ctx, c.url, Options{})
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %v, want %v containing %q", c.url, err, c.want, c.text)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error leaks the password: %v", c.url, err)
		}
	}
	if r := Redact("rtsp://user:secret@cam/x"); strings.Contains(r, "secret") {
		t.Fatalf("Redact kept the password: %s", r)
	}
}

// TestPatternMoves: consecutive frames differ (a frozen picture is
// detectable, R10), and frames carry increasing PTS.
func TestPatternMoves(t *testing.T) {
	ctx := context.Background()
	so, err := Open(ctx, "test://pattern?width=320&height=240&fps=15", Options{Unpaced: true})
	if err != nil {
		t.Fatal(err)
	}
	s := so.(RawSource)
	defer s.Close()
	if i := s.Info(); i.Width != 320 || i.Height != 240 || i.FPS != 15 {
		t.Fatalf("info %+v", i)
	}
	prev, _ := s.Read(ctx)
	for i := 1; i < 30; i++ {
		f, err := s.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(f.Y, prev.Y) {
			t.Fatalf("frame %d identical to the previous one", i)
		}
		if f.PTS <= prev.PTS {
			t.Fatalf("pts not increasing: %v then %v", prev.PTS, f.PTS)
		}
		if len(f.Y) != 320*240 || len(f.U) != 160*120 || len(f.V) != 160*120 {
			t.Fatal("bad plane sizes")
		}
		prev = f
	}
}

// TestPatternPacedAndCancellable: a paced source waits for frame times and
// stops waiting when the context ends.
func TestPatternPacedAndCancellable(t *testing.T) {
	so, err := Open(context.Background(), "test://pattern?width=64&height=48&fps=10", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := so.(RawSource)
	start := time.Now()
	for range 4 {
		if _, err := s.Read(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("4 frames at 10 fps came in %v: not paced", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
}

// FuzzOpen: any URL gives a source or an error, never a panic, and errors
// never carry a password.
func FuzzOpen(f *testing.F) {
	f.Add("test://pattern?width=64&height=48&fps=5")
	f.Add("rtsp://u:p4ss@h/x")
	f.Add("test://pattern?width=-1")
	f.Add("::::")
	f.Fuzz(func(t *testing.T, u string) {
		s, err := Open(context.Background(), u, Options{Unpaced: true})
		if err != nil {
			if strings.Contains(u, ":p4ss@") && strings.Contains(err.Error(), "p4ss") {
				t.Fatalf("password in error: %v", err)
			}
			return
		}
		defer s.Close()
		i := s.Info()
		if i.Width > 3840 || i.Height > 2160 || i.Width%2 != 0 || i.Height%2 != 0 {
			t.Fatalf("bad info %+v", i)
		}
	})
}
