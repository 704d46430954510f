package timesync

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The list round-trips, the file is what the time service's script reads
// (one name per line, comments skipped), and no file means the pool.
func TestServersRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := Servers{Path: filepath.Join(t.TempDir(), FileName)}
	if l, err := s.NTPServers(ctx); err != nil || l != nil {
		t.Fatalf("no file: %v %v", l, err)
	}
	want := []string{"ntp1.example.net", "192.0.2.10"}
	if err := s.SetNTPServers(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.NTPServers(ctx)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v %v", got, err)
	}
	b, _ := os.ReadFile(s.Path)
	if string(b) != "# NTP servers, one per line (written by the edgerec Settings page); none: the pool\nntp1.example.net\n192.0.2.10\n" {
		t.Fatalf("file %q", b)
	}
	if err := s.SetNTPServers(ctx, []string{"a b"}); err == nil {
		t.Fatal("a name with a space was written")
	}
	if got, _ := s.NTPServers(ctx); !slices.Equal(got, want) {
		t.Fatalf("a refused list changed the file: %v", got)
	}
}
