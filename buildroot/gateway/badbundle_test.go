package gateway

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEmulatedGatewayBadBundle (issue 16, bad input): a provisioning
// bundle with a config error, and a card too small for the ring. First
// boot must keep the gateway unprovisioned (no config, the recorder
// waiting, the bundle left in place) and say what and where on the console
// and in edgerec-bundle-ERROR.txt on the boot partition (what the
// installer sees when they put the card back in their laptop).
func TestEmulatedGatewayBadBundle(t *testing.T) {
	required(t)
	root := repoRoot(t)
	img, _ := sharedImage(t, firmware(t, root))
	script := filepath.Join(root, "scripts/qemu-gateway.sh")
	cases := []struct {
		name, yaml, card string
		want             []string // on the console and in the ERROR file
	}{
		{"unknown key", `device: {id: gw-bad, site: "Emulated branch"}
storage: {data_dir: /data/edgerec, ring_size: 16MiB}
colour: red
cameras: []
`, "1G", []string{"line 3", `unknown key "colour"`}},
		{"card too small for the ring", `device: {id: gw-small, site: "Emulated branch"}
storage: {data_dir: /data/edgerec, ring_size: 1GiB}
cameras: []
`, "600M", []string{"the ring needs 1024 MiB", "choose a smaller --ring-size"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bundle := t.TempDir()
			if err := os.WriteFile(filepath.Join(bundle, "edgerec.yaml"), []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			out := boardDir(t, img)
			if b, err := exec.Command(script, "card", out, bundle, c.card).CombinedOutput(); err != nil {
				t.Fatalf("qemu-gateway.sh card: %v\n%s", err, b)
			}
			b := &board{t: t, root: root, out: out, lanPort: freePort(t), console: filepath.Join(out, "console.log")}
			t.Cleanup(func() {
				b.cut()
				if t.Failed() {
					t.Logf("console (tail):\n%s", tail(b.consoleText(), 5000))
				}
			})
			b.boot()
			deadline := time.Now().Add(3 * time.Minute)
			for !strings.Contains(b.consoleText(), "edgerec-firstboot: ERROR") {
				if time.Now().After(deadline) {
					t.Fatalf("no provisioning error on the console\n%s", tail(b.consoleText(), 4000))
				}
				time.Sleep(time.Second)
			}
			failedAt := time.Since(b.started)
			con := b.consoleText()
			for _, w := range c.want {
				if !strings.Contains(con, w) {
					t.Errorf("console lacks %q", w)
				}
			}
			b.waitGuest("supervise waiting for a config", "grep -q 'not provisioned' /var/log/messages", 2*time.Minute)
			note := b.must("mkdir -p /run/t-boot && mount -t vfat -o ro /dev/vda1 /run/t-boot && cat /run/t-boot/edgerec-bundle-ERROR.txt && ls /run/t-boot/edgerec-bundle; umount /run/t-boot")
			for _, w := range append([]string{"provisioning FAILED", "edgerec.yaml"}, c.want...) {
				if !strings.Contains(note, w) {
					t.Errorf("edgerec-bundle-ERROR.txt / bundle lacks %q:\n%s", w, note)
				}
			}
			if _, rc, _ := b.sh("ls /data/edgerec/edgerec.yaml", time.Minute); rc == 0 {
				t.Error("provisioned despite the error")
			}
			if out, rc, _ := b.sh("pidof edgerec", time.Minute); rc == 0 {
				t.Errorf("edgerec runs unprovisioned: %s", out)
			}
			if _, err := b.lanFingerprint(3 * time.Second); err == nil {
				t.Error("the LAN page answers on an unprovisioned gateway")
			}
			t.Logf("%s: refused %v after power-on: %s", c.name, failedAt.Round(time.Second), strconv.Quote(firstLine(con, "edgerec-firstboot: ERROR")))
		})
	}
}

func firstLine(s, prefix string) string {
	i := strings.Index(s, prefix)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.IndexByte(s, '\n'); j >= 0 {
		s = s[:j]
	}
	return strings.TrimSpace(s)
}
