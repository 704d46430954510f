package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The configuration example in the README is a config this firmware
// accepts (docs stay true).
func TestREADMEConfigExampleLoads(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "```yaml\ndevice:")
	if i < 0 {
		t.Fatal("README has no ```yaml config example")
	}
	body := s[i+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	p := filepath.Join(t.TempDir(), "edgerec.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("README example: %v", err)
	}
}
