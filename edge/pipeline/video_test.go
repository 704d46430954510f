package pipeline

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 15 (R2): code outside the pipeline cannot make publishable video —
// neither a Video with content nor a plain access unit gets onto a Hub,
// the one way to the recorder and the live view. The attempts are compiled
// as a package of their own inside the module, and must not compile.
func TestVideoCannotBeMadeOutsideThePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the compiler")
	}
	for name, body := range map[string]string{
		"struct literal": `func Mint(h *pipeline.Hub, au media.AccessUnit) { h.Publish(pipeline.Video{au: au}) }`,
		"plain unit":     `func Mint(h *pipeline.Hub, au media.AccessUnit) { h.Publish(au) }`,
		"minter":         `func Mint(h *pipeline.Hub, au media.AccessUnit) { h.Publish(pipeline.passthrough(au)) }`,
	} {
		t.Run(name, func(t *testing.T) {
			dir, err := os.MkdirTemp(".", "zz-mint-probe-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			src := "package probe\n\nimport (\n\t\"github.com/edgerec/edgerec/edge/media\"\n\t\"github.com/edgerec/edgerec/edge/pipeline\"\n)\n\n" + body + "\n"
			if err := os.WriteFile(filepath.Join(dir, "probe.go"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("go", "build", "./"+dir).CombinedOutput()
			if err == nil {
				t.Fatalf("code outside the pipeline made publishable video:\n%s", body)
			}
			msg := string(out)
			if !strings.Contains(msg, "unexported") && !strings.Contains(msg, "unknown field") && !strings.Contains(msg, "cannot use") && !strings.Contains(msg, "undefined") {
				t.Fatalf("refused for another reason than the type: %s", msg)
			}
			t.Logf("%s: %s", name, strings.TrimSpace(msg))
		})
	}
	// The control: the same package compiles when it only reads.
	dir, _ := os.MkdirTemp(".", "zz-mint-probe-")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "probe.go"), []byte("package probe\n\nimport \"github.com/edgerec/edgerec/edge/pipeline\"\n\nfunc Read(r *pipeline.Reader) { <-r.C() }\n"), 0o644)
	if out, err := exec.Command("go", "build", "./"+dir).CombinedOutput(); err != nil {
		t.Fatalf("the control does not compile: %s", out)
	}
}

// The codec no longer imports edge/mask: R2 is the pipeline's (issue 15).
func TestCodecDoesNotImportMask(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../codec").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v %s", err, out)
	}
	if strings.Contains(string(out), "edgerec/edge/mask") {
		t.Fatal("edge/codec depends on edge/mask")
	}
}

// An empty Video (the only one code outside the pipeline can write down)
// is ignored by the hub.
func TestHubIgnoresEmptyVideo(t *testing.T) {
	h := NewHub()
	r := h.Subscribe(4)
	h.Publish(Video{})
	h.Publish(passthrough(testAU(true)))
	if got := (<-r.C()); len(got.Data) == 0 {
		t.Fatal("empty unit delivered")
	}
	if len(r.C()) != 0 {
		t.Fatal("the empty Video reached a reader")
	}
}
