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
// and the recorder and the live view accept nothing but the hub's Video,
// so unmasked video is unpublishable by type end to end. The attempts are compiled
// as a package of their own inside the module, and must not compile.
func TestVideoCannotBeMadeOutsideThePipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the compiler")
	}
	const hdr = "package probe\n\nimport (\n\t\"github.com/edgerec/edgerec/edge/media\"\n\t\"github.com/edgerec/edgerec/edge/pipeline\"\n)\n\n"
	// plain is a feed of plain access units (what any code can make).
	const plain = "type plain struct{ ch chan media.AccessUnit }\n\nfunc (p plain) C() <-chan media.AccessUnit { return p.ch }\nfunc (p plain) Dropped() uint64 { return 0 }\nfunc (p plain) Close() {}\n\n"
	for name, src := range map[string]string{
		"struct literal": hdr + `func Mint(h *pipeline.Hub, au media.AccessUnit) { h.Publish(pipeline.Video{au: au}) }`,
		"plain unit":     hdr + `func Mint(h *pipeline.Hub, au media.AccessUnit) { h.Publish(au) }`,
		"minter":         hdr + `func Mint(h *pipeline.Hub, au media.AccessUnit) { h.Publish(pipeline.passthrough(au)) }`,
		// The recorder and the live view take only the pipeline's
		// video: a feed of plain units is not a record.Feed or live.Feed.
		"recorder fed plain units": "package probe\n\nimport (\n\t\"github.com/edgerec/edgerec/edge/media\"\n\t\"github.com/edgerec/edgerec/edge/record\"\n)\n\n" + plain +
			`func Mint(s record.Store) *record.Recorder { return record.New(record.Config{}, s, plain{}) }`,
		"live view fed plain units": "package probe\n\nimport (\n\t\"github.com/edgerec/edgerec/edge/live\"\n\t\"github.com/edgerec/edgerec/edge/media\"\n)\n\n" + plain +
			`func Mint() live.Feed { return plain{} }`,
	} {
		t.Run(name, func(t *testing.T) {
			dir, err := os.MkdirTemp(".", "zz-mint-probe-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			if err := os.WriteFile(filepath.Join(dir, "probe.go"), []byte(src+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("go", "build", "./"+dir).CombinedOutput()
			if err == nil {
				t.Fatalf("code outside the pipeline made publishable video:\n%s", src)
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
	if got := (<-r.C()); len(got.AU().Data) == 0 {
		t.Fatal("empty unit delivered")
	}
	if len(r.C()) != 0 {
		t.Fatal("the empty Video reached a reader")
	}
}
