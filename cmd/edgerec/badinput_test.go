package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = dispatch(context.Background(), &env{stdout: &o, stderr: &e, getenv: func(string) string { return "" }}, args)
	return code, o.String(), e.String()
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			names = append(names, p)
		}
		return nil
	})
	return names
}

const goodCamera = `
cameras:
  - id: cam1
    name: Front
    source: "%SOURCE%"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    masks:
      - {name: window, style: fill, polygon: %POLY%}
lan: {listen: "127.0.0.1:18443"}
`

func writeConfig(t *testing.T, dataDir, src, poly string) string {
	t.Helper()
	body := "device: {id: gw-1}\nstorage: {data_dir: \"" + dataDir + "\", ring_size: 16MiB}\n" +
		strings.NewReplacer("%SOURCE%", src, "%POLY%", poly).Replace(goodCamera)
	p := filepath.Join(t.TempDir(), "edgerec.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunBadInput: each bad input gives exit 1, one clear line on stderr
// naming the camera/field (and line), and nothing is written (issue 2).
func TestRunBadInput(t *testing.T) {
	const okPoly = "[[0.1,0.1],[0.4,0.1],[0.4,0.4],[0.1,0.4]]"
	const okSrc = "test://pattern?width=320&height=240&fps=15"
	cases := []struct {
		name, src, poly string
		want            []string
	}{
		{"unknown scheme", "foo://cam/1", okPoly, []string{"line 7", "cameras[0].source", `unknown source scheme "foo"`}},
		{"two points", okSrc, "[[0.1,0.1],[0.4,0.1]]", []string{"cameras[0].masks[0]", `"window"`, "3 points"}},
		{"outside 0..1", okSrc, "[[0.1,0.1],[1.4,0.1],[0.4,0.4]]", []string{"cameras[0].masks[0]", `"window"`, "outside 0..1"}},
		{"self-intersecting", okSrc, "[[0.1,0.1],[0.4,0.4],[0.4,0.1],[0.1,0.4]]", []string{"cameras[0].masks[0]", `"window"`, "intersect"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			before := listDir(t, data)
			cfg := writeConfig(t, data, tc.src, tc.poly)
			code, _, stderr := runCLI(t, "run", "--config", cfg)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr: %s", code, stderr)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Errorf("want one line on stderr, got %d:\n%s", n+1, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if after := listDir(t, data); len(after) != len(before) {
				t.Errorf("data dir changed: %v", after)
			}
		})
	}
}

// TestRunUnreadableDataDir: a data dir that is not a directory, or does not
// exist, is one clear error and nothing is created.
func TestRunUnreadableDataDir(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(base, "missing")
	for _, dir := range []string{file, missing} {
		cfg := writeConfig(t, dir, "test://pattern?width=320&height=240&fps=15", "[[0.1,0.1],[0.4,0.1],[0.4,0.4],[0.1,0.4]]")
		code, _, stderr := runCLI(t, "run", "--config", cfg)
		if code != 1 || !strings.Contains(stderr, "data dir "+dir) {
			t.Fatalf("dir %s: exit %d, stderr %q", dir, code, stderr)
		}
		if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
			t.Errorf("want one line on stderr, got:\n%s", stderr)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("missing data dir was created: %v", err)
	}
	// Issue 18: a missing data dir points to provisioning.
	cfg := writeConfig(t, missing, "test://pattern?width=320&height=240&fps=15", "[[0.1,0.1],[0.4,0.1],[0.4,0.4],[0.1,0.4]]")
	if _, _, stderr := runCLI(t, "run", "--config", cfg); !strings.Contains(stderr, "edgerec provision --data "+missing) {
		t.Fatalf("missing data dir: stderr %q does not point to edgerec provision", stderr)
	}
	if b, _ := os.ReadFile(file); string(b) != "x" {
		t.Fatal("file changed")
	}
}

// TestRunUnprovisioned: a configured but unprovisioned data dir is refused
// with the provision command to run, nothing written.
func TestRunUnprovisioned(t *testing.T) {
	data := t.TempDir()
	cfg := writeConfig(t, data, "test://pattern?width=320&height=240&fps=15", "[[0.1,0.1],[0.4,0.1],[0.4,0.4],[0.1,0.4]]")
	code, _, stderr := runCLI(t, "run", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "edgerec provision --data") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if after := listDir(t, data); len(after) != 1 {
		t.Fatalf("data dir changed: %v", after)
	}
}

func TestCLIUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"help"}, 0, "edgerec selftest"},
		{[]string{}, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"export", "--data", "x"}, 2, "are required"},
		{[]string{"verify"}, 2, "give one FILE"},
		{[]string{"verify", "/nonexistent.mp4"}, 1, "verification FAILED"},
		{[]string{"decommission"}, 2, "are required"},
		{[]string{"decommission", "--data", "x", "--confirm", "y", "--grant", "g", "--user", "u", "--passes", "9"}, 2, "--passes"},
		{[]string{"fleet"}, 2, "--broker"},
		{[]string{"run"}, 2, "--demo"},
		{[]string{"selftest", "--source", "foo://x"}, 2, "unknown scheme"},
		{[]string{"selftest", "--frames", "0"}, 2, "--frames"},
		{[]string{"check"}, 2, "--data"},
		{[]string{"version"}, 0, "openh264"},
	} {
		code, out, errOut := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.out) {
			t.Errorf("%v: exit %d (want %d), output %q (want %q)", c.args, code, c.code, out+errOut, c.out)
		}
	}
}

// TestProvisionInstallChecks: a ring larger than the free space is refused
// before anything is written (issue 8's install-time checks).
func TestProvisionInstallChecks(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev")
	code, _, errOut := runCLI(t, "provision", "--data", data, "--device-id", "gw-big", "--ring-size", "900TiB")
	if code != 1 || !strings.Contains(errOut, "free") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if names := listDir(t, data); len(names) > 1 {
		t.Fatalf("refused provision wrote %v", names)
	}
	code, _, errOut = runCLI(t, "provision", "--data", data, "--device-id", "gw-ok", "--ring-size", "16MiB")
	if code != 0 || !strings.Contains(errOut, "fallocate: supported") || !strings.Contains(errOut, "clock:") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
