package export

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 18: `edgerec verify` on something that is not an edgerec export
// says what it is not, never a JSON parse error.
func TestVerifyFileForeignFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mp4 := append([]byte{0, 0, 0, 0x18}, []byte("ftypisom\x00\x00\x02\x00isomiso2")...)
	cases := []struct {
		name, path, want string
	}{
		{"mp4 without manifest", write("holiday.mp4", mp4), "holiday.mp4 is a video without its manifest holiday.manifest.json beside it"},
		{"mp4 starting with free", write("other.mp4", append([]byte{0, 0, 0, 8}, []byte("free\x00\x00\x00\x08moov")...)), "without its manifest other.manifest.json"},
		{"random bytes", write("random.bin", []byte("\x89PNG\r\n\x1a\n...")), "random.bin is neither an MP4 nor a signed edgerec document"},
		{"text", write("notes.txt", []byte("hello")), "notes.txt is neither an MP4 nor a signed edgerec document"},
		{"empty", write("empty", nil), "empty is neither an MP4"},
	}
	// An MP4 with a foreign JSON file as its manifest: the manifest is named.
	write("pair.mp4", mp4)
	write("pair.manifest.json", []byte(`{"hello": 1}`))
	cases = append(cases, struct{ name, path, want string }{"mp4 with a foreign manifest", filepath.Join(dir, "pair.mp4"), "manifest pair.manifest.json: export: not a valid signed document"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := VerifyFile(c.path)
			if err == nil || !errors.Is(err, ErrBadDocument) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("VerifyFile: %v, want ErrBadDocument saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), "invalid character") {
				t.Fatalf("VerifyFile: %v: a JSON parse error for a file that is not JSON", err)
			}
		})
	}
}
