package gateway

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/source/rtsprig"
	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func required(t *testing.T) {
	t.Helper()
	if os.Getenv("EDGEREC_REQUIRE_SWTPM") != "1" && os.Getenv("EDGEREC_TEST_GATEWAY") != "1" {
		t.Skip("emulated gateway (qemu-system-aarch64, ~4 min): set EDGEREC_REQUIRE_SWTPM=1 (CI) or EDGEREC_TEST_GATEWAY=1 to run it")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the emulated gateway needs root (scripts/qemu-gateway.sh: mknod, apt-get)")
	}
	for _, tool := range []string{"qemu-system-aarch64", "qemu-aarch64", "genimage", "mcopy", "mkfs.vfat", "mke2fs", "cpio", "depmod", "ffmpeg", "mosquitto", "aarch64-linux-gnu-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s missing: run scripts/deps.sh", tool)
		}
	}
}

// firmware builds the static arm64 edgerec as `make firmware` does.
func firmware(t *testing.T, root string) string {
	t.Helper()
	if p := os.Getenv("EDGEREC_ARM64_BIN"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "edgerec-linux-arm64")
	cmd := exec.Command("go", "build", "-tags", "netgo,osusergo", "-trimpath",
		"-ldflags", "-s -w -X main.version=qemu-test -linkmode external -extldflags -static", "-o", out, "./cmd/edgerec")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=linux", "GOARCH=arm64", "CC=aarch64-linux-gnu-gcc", "CXX=aarch64-linux-gnu-g++")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build arm64 edgerec: %v\n%s", err, b)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	imageOnce sync.Once
	imageDir  string
	imageVend vendor
	imageErr  string
)

// TestMain removes the shared image.
func TestMain(m *testing.M) {
	code := m.Run()
	if imageDir != "" {
		os.RemoveAll(imageDir)
	}
	os.Exit(code)
}

// sharedImage builds the gateway image once per test binary (with the
// update CA of vendor "vendor" and system version qemu-1): sdcard.img,
// vmlinuz, initrd.gz, rootfs.ext4.
func sharedImage(t *testing.T, bin string) (string, vendor) {
	t.Helper()
	imageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edgerec-gw-image-")
		if err != nil {
			imageErr = err.Error()
			return
		}
		imageDir = dir
		imageVend = newVendorIn(t, dir, "vendor")
		cmd := exec.Command(filepath.Join(repoRoot(t), "scripts/qemu-gateway.sh"), "image", bin, dir)
		cmd.Env = append(os.Environ(), "QEMU_GW_UPDATE_CA="+imageVend.CA, "QEMU_GW_VERSION=qemu-1")
		if b, err := cmd.CombinedOutput(); err != nil {
			imageErr = fmt.Sprintf("qemu-gateway.sh image: %v\n%s", err, b)
		}
	})
	if imageErr != "" {
		t.Fatal(imageErr)
	}
	return imageDir, imageVend
}

// boardDir is a directory for one board: hard links to the shared image
// (os.MkdirTemp and t.TempDir are both under $TMPDIR).
func boardDir(t *testing.T, img string) string {
	t.Helper()
	out := t.TempDir()
	for _, f := range []string{"sdcard.img", "vmlinuz", "initrd.gz", "rootfs.ext4"} {
		if err := os.Link(filepath.Join(img, f), filepath.Join(out, f)); err != nil { // flash.sh stats the image: no symlink
			t.Fatal(err)
		}
	}
	return out
}

// board is one emulated gateway: the card, the qemu process, the hook.
type board struct {
	t       *testing.T
	root    string
	out     string
	lanPort int
	console string
	qemu    *exec.Cmd
	started time.Time

	mu   sync.Mutex
	conn net.Conn
	rd   *bufio.Reader
	seq  int
}

func (b *board) boot() {
	b.t.Helper()
	cmd := exec.Command(filepath.Join(b.root, "scripts/qemu-gateway.sh"), "boot", b.out)
	cmd.Env = append(os.Environ(), "QEMU_GW_LAN_PORT="+strconv.Itoa(b.lanPort), "QEMU_GW_CONSOLE="+b.console,
		"QEMU_GW_HOOK="+filepath.Join(b.out, "hook.sock"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.OpenFile(filepath.Join(b.out, "qemu.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.qemu, b.started = cmd, time.Now()
	b.conn = nil
}

// cut kills qemu: a power cut.
func (b *board) cut() {
	if b.qemu == nil || b.qemu.Process == nil {
		return
	}
	syscall.Kill(-b.qemu.Process.Pid, syscall.SIGKILL)
	b.qemu.Wait()
	b.qemu = nil
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
	}
}

// sh runs a command in the guest through the test hook and returns its
// output and exit status.
func (b *board) sh(cmd string, timeout time.Duration) (string, int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		c, err := net.Dial("unix", filepath.Join(b.out, "hook.sock"))
		if err != nil {
			return "", -1, err
		}
		b.conn, b.rd = c, bufio.NewReader(c)
	}
	b.seq++
	end := fmt.Sprintf("__EDGEREC_END_%d__", b.seq)
	b.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(b.conn, "%s\necho %s $?\n", cmd, end); err != nil {
		b.conn.Close()
		b.conn = nil
		return "", -1, err
	}
	var out strings.Builder
	for {
		line, err := b.rd.ReadString('\n')
		if err != nil {
			b.conn.Close()
			b.conn = nil
			return out.String(), -1, err
		}
		if strings.HasPrefix(line, end+" ") {
			rc, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, end+" ")))
			return out.String(), rc, nil
		}
		out.WriteString(line)
	}
}

// must runs cmd in the guest and fails the test unless it exits 0.
func (b *board) must(cmd string) string {
	b.t.Helper()
	out, rc, err := b.sh(cmd, 2*time.Minute)
	if err != nil || rc != 0 {
		b.t.Fatalf("guest: %s: rc=%d err=%v\n%s\nconsole:\n%s", cmd, rc, err, out, tail(b.consoleText(), 3000))
	}
	return out
}

// waitGuest waits until the hook answers cmd with exit 0.
func (b *board) waitGuest(what, cmd string, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		out, rc, err := b.sh(cmd, 20*time.Second)
		if err == nil && rc == 0 {
			return out
		}
		last = fmt.Sprintf("rc=%d err=%v %s", rc, err, out)
		time.Sleep(2 * time.Second)
	}
	b.t.Fatalf("%s: not after %v (%s)\nconsole:\n%s", what, timeout, last, tail(b.consoleText(), 4000))
	return ""
}

func (b *board) consoleText() string {
	s, _ := os.ReadFile(b.console)
	return string(s)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// lanFingerprint fetches the LAN page over the forward and returns the
// SHA-256 fingerprint of the certificate it presented.
func (b *board) lanFingerprint(timeout time.Duration) (string, error) {
	var fp string
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, // self-signed: compared by fingerprint
		VerifyConnection: func(cs tls.ConnectionState) error {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			var parts []string
			for _, c := range sum {
				parts = append(parts, fmt.Sprintf("%02X", c))
			}
			fp = strings.Join(parts, ":")
			return nil
		}}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: timeout}
	resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/", b.lanPort))
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fp, fmt.Errorf("LAN page: %s", resp.Status)
	}
	return fp, nil
}

// check stops the recorder, runs `edgerec check` and starts it again;
// it returns check's report.
func (b *board) check() string {
	b.t.Helper()
	// A subshell: `exit` in the hook's own shell would end the hook.
	return b.must("(/etc/init.d/S90edgerec stop >/dev/null; /usr/bin/edgerec check --data /data/edgerec; rc=$?; /etc/init.d/S90edgerec start >/dev/null; exit $rc)")
}

var segLine = regexp.MustCompile(`(?m)(\d+) segment`)

// TestEmulatedGateway: first boot from a freshly flashed card, supervision,
// the watchdog and power cuts (issue 16; D1, R23–R25).
func TestEmulatedGateway(t *testing.T) {
	required(t)
	root := repoRoot(t)
	bin := firmware(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	broker := uplinktest.StartBroker(t)
	sub := broker.Subscribe(t, "ops-qemu", "edgerec/gw-qemu/#", false)
	rtsp, err := rtsprig.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rtsp.Stop)
	pub, err := rtsp.Publish(ctx, "cam2", rtsprig.FFmpegArgs("320x240", 10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Stop)
	_, rtspPort, _ := net.SplitHostPort(rtsp.Addr())
	_, mqttPort, _ := net.SplitHostPort(strings.TrimPrefix(broker.URL(), "mqtts://"))

	// The installer's bundle: a test:// camera, an RTSP camera on the host
	// (10.0.2.2 is the host's loopback as the guest sees it), the uplink.
	bundle := t.TempDir()
	put := func(name, body string) {
		p := filepath.Join(bundle, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyIn := func(name, from string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		put(name, string(b))
	}
	put("edgerec.yaml", `device: {id: gw-qemu, site: "Emulated branch"}
storage: {data_dir: /data/edgerec, ring_size: 96MiB}
cameras:
  - id: cam1
    name: Front door
    source: "test://pattern?width=320&height=240&fps=10"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
    keyframe_interval: 2s
  - id: cam2
    name: Back door
    source: "rtsp://10.0.2.2:`+rtspPort+`/cam2?transport=tcp"
    zone: entrance
    signage: {attested_by: "A. Installer", date: 2026-11-27}
lan: {listen: "0.0.0.0:8443"}
uplink:
  broker: "mqtts://10.0.2.2:`+mqttPort+`"
  ca: /data/edgerec/uplink/ca.pem
  cert: /data/edgerec/uplink/cert.pem
  key: /data/edgerec/uplink/key.pem
  beacon_interval: 5s
`)
	copyIn("uplink/ca.pem", broker.Certs.CA)
	copyIn("uplink/cert.pem", broker.Certs.ClientCert)
	copyIn("uplink/key.pem", broker.Certs.ClientKey)

	img, vend := sharedImage(t, bin)
	out := boardDir(t, img)
	script := filepath.Join(root, "scripts/qemu-gateway.sh")
	if b, err := exec.CommandContext(ctx, script, "card", out, bundle, "1G").CombinedOutput(); err != nil {
		t.Fatalf("qemu-gateway.sh card: %v\n%s", err, b)
	}
	b := &board{t: t, root: root, out: out, lanPort: freePort(t), console: filepath.Join(out, "console.log")}
	t.Cleanup(func() {
		b.cut()
		if t.Failed() {
			t.Logf("console (tail):\n%s", tail(b.consoleText(), 6000))
		}
	})
	b.boot()

	// First boot: data partition created, bundle applied and deleted.
	var fp string
	var lanAt time.Duration
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if got, err := b.lanFingerprint(5 * time.Second); err == nil {
			fp, lanAt = got, time.Since(b.started)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LAN page never answered on 127.0.0.1:%d\nconsole:\n%s", b.lanPort, tail(b.consoleText(), 5000))
		}
		time.Sleep(time.Second)
	}
	con := b.consoleText()
	m := regexp.MustCompile(`TLS cert:\s+SHA-256 (\S+)`).FindStringSubmatch(con)
	if m == nil {
		t.Fatalf("the console did not print the TLS fingerprint:\n%s", tail(con, 4000))
	}
	if m[1] != fp {
		t.Errorf("LAN page presents %s, the console printed %s", fp, m[1])
	}
	for _, want := range []string{"edgerec-data: first boot: creating partition 4", "formatting /dev/vda4", "bundle deleted from the boot partition", "Starting edgerec: OK"} {
		if !strings.Contains(con, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	t.Logf("boot to LAN page (first boot, emulated): %v", lanAt.Round(time.Second))

	parts := b.must("sfdisk -d /dev/vda | grep -c '^/dev/vda'")
	if strings.TrimSpace(parts) != "4" {
		t.Errorf("want 4 partitions after first boot (boot, rootfs A, rootfs B, data), have %s", parts)
	}
	df := b.must("df -k /data | awk 'NR==2 {print $2}'")
	if kb, _ := strconv.Atoi(strings.TrimSpace(df)); kb < 500*1024 { // 1 GiB − boot − 2 root slots ≈ 560 MiB
		t.Errorf("data partition not grown to the end of the 1 GiB card: %s KiB", df)
	}
	boot := b.must("mkdir -p /run/t-boot && mount -t vfat -o ro /dev/vda1 /run/t-boot && ls -R /run/t-boot; umount /run/t-boot")
	if strings.Contains(boot, "edgerec-bundle") && !strings.Contains(boot, "edgerec-bundle-") || strings.Contains(boot, "key.pem") || !strings.Contains(boot, "edgerec-provisioned.txt") {
		t.Errorf("boot partition after first boot:\n%s", boot)
	}
	if _, rc, _ := b.sh("ls /data/edgerec/uplink/key.pem", time.Minute); rc == 0 {
		t.Error("the plain uplink key is still on the data partition (provision seals it)")
	}

	// Read-only root; /data the only writable disk.
	mounts := b.must("cat /proc/mounts")
	if !regexp.MustCompile(`(?m)^/dev/vda2 / ext4 ro[,\s]`).MatchString(mounts) {
		t.Errorf("root not mounted read-only:\n%s", mounts)
	}
	for _, l := range strings.Split(mounts, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && strings.HasPrefix(f[0], "/dev/vd") && f[1] != "/data" && !strings.HasPrefix(f[3], "ro") {
			t.Errorf("writable disk mount other than /data: %s", l)
		}
	}
	if out, rc, _ := b.sh("touch /etc/x 2>&1; touch /usr/bin/x 2>&1", time.Minute); rc == 0 {
		t.Errorf("wrote to the root file system: %s", out)
	}

	// A beacon at the host's mosquitto.
	sub.Wait(t, 2*time.Minute, "a beacon from the emulated gateway", func(ms []uplinktest.Message) bool {
		for _, m := range ms {
			if m.Topic == "edgerec/gw-qemu/beacon" {
				return true
			}
		}
		return false
	})

	// Both cameras record: a sealed segment each, then `edgerec check`.
	time.Sleep(20 * time.Second)
	rep := b.check()
	t.Logf("edgerec check after first boot:\n%s", rep)
	if m := segLine.FindStringSubmatch(rep); m == nil || m[1] == "0" {
		t.Errorf("nothing recorded after first boot:\n%s", rep)
	}

	// kill -9: the supervisor restarts edgerec.
	pid := strings.TrimSpace(b.waitGuest("edgerec running", "pidof edgerec", time.Minute))
	b.must("kill -9 " + pid)
	b.waitGuest("edgerec restarted by the supervisor", "p=$(pidof edgerec) && [ \"$p\" != "+pid+" ]", time.Minute)

	// kill -STOP: the watchdog (i6300esb, 30 s) reboots the board.
	bootID := strings.TrimSpace(b.must("cat /proc/sys/kernel/random/boot_id"))
	pid = strings.TrimSpace(b.waitGuest("edgerec running", "pidof edgerec", time.Minute))
	// Hang it once it has armed the watchdog (it opens /dev/watchdog after
	// its start-up; a clean stop disarmed it).
	b.waitGuest("edgerec has opened the watchdog", "ls -l /proc/"+pid+"/fd | grep -q /dev/watchdog", 2*time.Minute)
	stopped := time.Now()
	b.must("kill -STOP " + pid)
	for time.Since(stopped) < 150*time.Second {
		out, rc, err := b.sh("cat /proc/sys/kernel/random/boot_id", 10*time.Second)
		if err == nil && rc == 0 && strings.TrimSpace(out) != bootID {
			break
		}
		time.Sleep(3 * time.Second)
	}
	if out, rc, err := b.sh("cat /proc/sys/kernel/random/boot_id", 10*time.Second); err == nil && rc == 0 && strings.TrimSpace(out) == bootID {
		msgs, _, _ := b.sh("tail -40 /var/log/messages; ps", time.Minute)
		t.Fatalf("no watchdog reboot 150 s after kill -STOP %s:\n%s", pid, msgs)
	}
	b.waitGuest("a reboot by the watchdog", "[ \"$(cat /proc/sys/kernel/random/boot_id)\" != "+bootID+" ]", 3*time.Minute)
	t.Logf("hung recorder → watchdog reboot → hook answers: %v", time.Since(stopped).Round(time.Second))
	b.waitGuest("edgerec running after the watchdog reboot", "pidof edgerec", 2*time.Minute)
	for wd := time.Now(); ; time.Sleep(time.Second) {
		_, err := b.lanFingerprint(5 * time.Second)
		if err == nil {
			break
		}
		if time.Since(wd) > 2*time.Minute {
			t.Fatalf("LAN page after the watchdog reboot: %v", err)
		}
	}

	// Updates (issue 16): refusals, rollback, slot B with the new version.
	l := b.testUpdates(root, out, vend, fp, sub)

	// Power cuts at random moments during recording (on slot B). After
	// each: the board comes back recording, `edgerec check` passes, and
	// the timeline says how much footage recorded before the cut was lost
	// (cut time − end of the last footage kept before it) and when the
	// first footage after the boot started.
	cuts := 10
	if s := os.Getenv("EDGEREC_GATEWAY_CUTS"); s != "" {
		cuts, _ = strconv.Atoi(s)
	}
	var lost []time.Duration
	for i := 0; i < cuts; i++ {
		time.Sleep(time.Duration(8+time.Now().UnixNano()%15) * time.Second)
		tCut := time.Now()
		b.cut()
		b.boot()
		b.waitGuest("edgerec running after power cut", "pidof edgerec", 3*time.Minute)
		lanAfter := time.Since(b.started)
		for {
			if _, err := b.lanFingerprint(5 * time.Second); err == nil {
				lanAfter = time.Since(b.started)
				break
			}
			if time.Since(b.started) > 3*time.Minute {
				t.Fatalf("cut %d: LAN page did not come back", i+1)
			}
			time.Sleep(time.Second)
		}
		aud := l.login("auditor")
		var firstAt time.Duration
		var cutLost [2]time.Duration
		for {
			ok := true
			for ci, cam := range []string{"cam1", "cam2"} {
				spans := l.timeline(aud, cam)
				after, keptEnd := time.Time{}, time.Time{}
				for _, sp := range spans {
					if sp.From.Before(tCut) && sp.To.After(keptEnd) {
						keptEnd = sp.To
					}
					if sp.From.After(tCut) && (after.IsZero() || sp.From.Before(after)) && sp.To.After(sp.From) {
						after = sp.From
					}
				}
				if after.IsZero() {
					ok = false
					continue
				}
				if ci == 0 {
					firstAt = after.Sub(b.started)
				}
				cutLost[ci] = max(0, tCut.Sub(keptEnd))
			}
			if ok {
				break
			}
			if time.Since(b.started) > 4*time.Minute {
				t.Fatalf("cut %d: no footage after the boot", i+1)
			}
			time.Sleep(2 * time.Second)
		}
		rep := b.check()
		if m := segLine.FindStringSubmatch(rep); m == nil || m[1] == "0" {
			t.Errorf("cut %d: nothing recorded:\n%s", i+1, rep)
		}
		lost = append(lost, cutLost[0], cutLost[1])
		t.Logf("power cut %d: LAN page after %v, first footage (cam1) starts %v after qemu start; footage lost before the cut: cam1 %v, cam2 %v; check: %s",
			i+1, lanAfter.Round(time.Second), firstAt.Round(time.Second), cutLost[0].Round(100*time.Millisecond), cutLost[1].Round(100*time.Millisecond),
			strings.TrimSpace(segLine.FindString(rep)))
	}
	if len(lost) > 0 {
		var sum, worst time.Duration
		for _, d := range lost {
			sum += d
			worst = max(worst, d)
		}
		t.Logf("power cuts: %d, footage lost per cut and camera: mean %v, worst %v", cuts, (sum / time.Duration(len(lost))).Round(100*time.Millisecond), worst.Round(100*time.Millisecond))
	}
}
