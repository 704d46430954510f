package buildroot_test

// Tests of the BR2_EXTERNAL tree, the gateway's init and first-boot scripts,
// and scripts/flash.sh and scripts/install.sh — all on the host:
//
//   - structure: Config.in sourcing, defconfig symbols and paths, .mk;
//   - every script executable, `sh -n`/`bash -n`, shellcheck when installed;
//   - supervise starts `edgerec run --config /data/edgerec/edgerec.yaml`,
//     respawns it and forwards SIGTERM; the NTP hook's synced marker;
//   - firstboot against a fake boot partition directory, with the real
//     edgerec binary (built here) and with a fake one;
//   - data-partition and flash.sh on loop devices (root + losetup; skipped
//     otherwise), flash.sh on a regular file (--allow-file) always, and its
//     refusal of the root disk (--dry-run: never writes);
//   - install.sh into a staging root;
//   - with EDGEREC_BUILDROOT=/path/to/buildroot: `make defconfig` and
//     `make savedefconfig` of both defconfigs against that checkout.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgerec/edgerec/edge/uplink/uplinktest"
)

const (
	overlay = "board/edgerec/common/overlay"
	libexec = overlay + "/usr/libexec/edgerec"
	initd   = overlay + "/etc/init.d"
)

var defconfigs = []string{"configs/edgerec_raspberrypi4_64_defconfig", "configs/edgerec_raspberrypi5_defconfig"}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// cleanEnv is the environment without EDGEREC_* overrides, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "EDGEREC_") {
			env = append(env, e)
		}
	}
	return append(env, extra...)
}

func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (see scripts/deps.sh)", tool)
		}
	}
}

func needRootLoop(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices")
	}
	need(t, "losetup", "sfdisk", "partx", "mkfs.ext4", "mount")
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no /dev/loop-control")
	}
}

// ---------------------------------------------------------------------------
// Structure

func TestTreeStructure(t *testing.T) {
	if !strings.Contains(read(t, "external.desc"), "name: EDGEREC") {
		t.Error("external.desc: want name: EDGEREC")
	}
	if !strings.Contains(read(t, "external.mk"), "$(BR2_EXTERNAL_EDGEREC_PATH)/package/*/*.mk") {
		t.Error("external.mk does not include package/*/*.mk")
	}

	// Every package's Config.in is sourced, every sourced file exists.
	top := read(t, "Config.in")
	sourced := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*source\s+"\$BR2_EXTERNAL_EDGEREC_PATH/([^"]+)"`).FindAllStringSubmatch(top, -1) {
		sourced[m[1]] = true
		if _, err := os.Stat(m[1]); err != nil {
			t.Errorf("Config.in sources missing %s", m[1])
		}
	}
	pkgs, _ := filepath.Glob("package/*/Config.in")
	if len(pkgs) == 0 {
		t.Fatal("no package/*/Config.in")
	}
	defined := map[string]bool{}
	for _, p := range pkgs {
		if !sourced[p] {
			t.Errorf("%s is not sourced from Config.in", p)
		}
		name := filepath.Base(filepath.Dir(p))
		if _, err := os.Stat(filepath.Join("package", name, name+".mk")); err != nil {
			t.Errorf("package %s has no %s.mk", name, name)
		}
		for _, m := range regexp.MustCompile(`(?m)^(?:menu)?config\s+(BR2_\w+)`).FindAllStringSubmatch(read(t, p), -1) {
			defined[m[1]] = true
		}
	}
	// Our packages' symbols, e.g. BR2_PACKAGE_EDGEREC and BR2_PACKAGE_EDGEREC_*.
	var ours []string
	for _, p := range pkgs {
		ours = append(ours, "BR2_PACKAGE_"+strings.ToUpper(strings.ReplaceAll(filepath.Base(filepath.Dir(p)), "-", "_")))
	}

	mk := read(t, "package/edgerec/edgerec.mk")
	for _, want := range []string{"$(eval $(golang-package))", "EDGEREC_SITE_METHOD = local", "EDGEREC_TAGS = netgo osusergo",
		"-linkmode external", "EDGEREC_EXTLDFLAGS = -static", "CGO_ENABLED=1", "EDGEREC_PRE_BUILD_HOOKS += EDGEREC_VENDOR", "vendor.sh"} {
		if !strings.Contains(mk, want) {
			t.Errorf("edgerec.mk lacks %q", want)
		}
	}
	if !strings.Contains(read(t, "package/edgerec/Config.in"), "depends on BR2_INSTALL_LIBSTDCPP") {
		t.Error("package/edgerec/Config.in must depend on a C++ toolchain (openh264)")
	}

	setLine := regexp.MustCompile(`^(BR2_\w+)=(.*)$`)
	extPath := regexp.MustCompile(`\$\(BR2_EXTERNAL_EDGEREC_PATH\)/([^" ]+)`)
	for _, dc := range defconfigs {
		text := read(t, dc)
		set := map[string]string{}
		for _, line := range strings.Split(text, "\n") {
			if m := setLine.FindStringSubmatch(line); m != nil {
				set[m[1]] = m[2]
				for _, o := range ours {
					if (m[1] == o || strings.HasPrefix(m[1], o+"_")) && !defined[m[1]] {
						t.Errorf("%s: %s is not defined by any package Config.in of this tree", dc, m[1])
					}
				}
			}
			for _, m := range extPath.FindAllStringSubmatch(line, -1) {
				fi, err := os.Stat(m[1])
				if err != nil {
					t.Errorf("%s: %s does not exist", dc, m[1])
					continue
				}
				if strings.HasSuffix(m[1], ".sh") && fi.Mode()&0o111 == 0 {
					t.Errorf("%s: %s is not executable", dc, m[1])
				}
			}
		}
		for k, v := range map[string]string{
			"BR2_PACKAGE_EDGEREC":             "y",
			"BR2_TOOLCHAIN_BUILDROOT_CXX":     "y",
			"BR2_TARGET_ROOTFS_EXT2_4":        "y",
			"BR2_PACKAGE_HOST_GENIMAGE":       "y",
			"BR2_ROOTFS_OVERLAY":              `"$(BR2_EXTERNAL_EDGEREC_PATH)/board/edgerec/common/overlay"`,
			"BR2_ROOTFS_POST_IMAGE_SCRIPT":    `"$(BR2_EXTERNAL_EDGEREC_PATH)/board/edgerec/common/post-image.sh"`,
			"BR2_ROOTFS_POST_BUILD_SCRIPT":    `"$(BR2_EXTERNAL_EDGEREC_PATH)/board/edgerec/common/post-build.sh"`,
			"BR2_PACKAGE_RPI_FIRMWARE":        "y",
			"BR2_PACKAGE_HOST_DOSFSTOOLS":     "y",
			"BR2_PACKAGE_HOST_MTOOLS":         "y",
			"BR2_DOWNLOAD_FORCE_CHECK_HASHES": "y",
		} {
			if set[k] != v {
				t.Errorf("%s: want %s=%s, have %q", dc, k, v, set[k])
			}
		}
		for _, off := range []string{"BR2_TARGET_GENERIC_GETTY", "BR2_TARGET_GENERIC_REMOUNT_ROOTFS_RW"} {
			if !strings.Contains(text, "# "+off+" is not set") {
				t.Errorf("%s: want '# %s is not set' (no console login, read-only root)", dc, off)
			}
		}
		// edgerec feeds the watchdog itself (supervise passes --watchdog):
		// busybox's watchdog daemon would hold the device and feed it even
		// while the recorder hangs.
		if _, ok := set["BR2_PACKAGE_BUSYBOX_WATCHDOG"]; ok {
			t.Errorf("%s: BR2_PACKAGE_BUSYBOX_WATCHDOG is set; edgerec feeds /dev/watchdog itself", dc)
		}
		for _, bad := range []string{"BR2_PACKAGE_DROPBEAR", "BR2_PACKAGE_OPENSSH", "BR2_PACKAGE_EDGEREC_MAINTENANCE_SSH", "BR2_PACKAGE_BUSYBOX_TELNETD"} {
			if _, ok := set[bad]; ok {
				t.Errorf("%s: %s is set; SSH is off by default", dc, bad)
			}
		}
	}
	for _, b := range []string{"rpi4", "rpi5"} {
		cmd := read(t, filepath.Join("board/edgerec", b, "cmdline.txt"))
		if !strings.Contains(cmd, " ro ") || !strings.Contains(cmd, "root=/dev/mmcblk0p2") {
			t.Errorf("%s/cmdline.txt: want a read-only root on mmcblk0p2: %s", b, cmd)
		}
		if !strings.Contains(read(t, filepath.Join("board/edgerec", b, "config.txt")), "dtparam=watchdog=on") {
			t.Errorf("%s/config.txt: watchdog not enabled", b)
		}
	}
	gi := read(t, "board/edgerec/common/genimage.cfg.in")
	if !strings.Contains(gi, "#BOOT_FILES#") || !strings.Contains(gi, `image = "rootfs.ext4"`) || !strings.Contains(gi, "#ROOTFS_SIZE#") {
		t.Error("genimage.cfg.in: want #BOOT_FILES# and rootfs.ext4")
	}
	if !strings.Contains(read(t, "board/edgerec/common/busybox.fragment"), "CONFIG_NTPD=y") {
		t.Error("busybox.fragment must enable ntpd")
	}
}

// scripts returns every script of the tree and scripts/flash.sh, install.sh.
func scripts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, g := range []string{initd + "/*", libexec + "/*", "board/edgerec/common/*.sh", "package/*/*.sh", "../scripts/flash.sh", "../scripts/install.sh",
		"board/edgerec/qemu/init", "board/edgerec/qemu/skeleton/etc/init.d/*", "board/edgerec/qemu/skeleton/usr/libexec/edgerec-qemu/*",
		"board/edgerec/qemu/skeleton/usr/share/udhcpc/*", "../scripts/qemu-gateway.sh"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) < 12 {
		t.Fatalf("found only %d scripts: %v", len(out), out)
	}
	return out
}

func TestScriptsSyntax(t *testing.T) {
	_, errSC := exec.LookPath("shellcheck")
	for _, p := range scripts(t) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&0o111 != 0o111 {
			t.Errorf("%s is not executable (mode %v)", p, fi.Mode())
		}
		first, _, _ := strings.Cut(read(t, p), "\n")
		var shell string
		switch first {
		case "#!/bin/sh":
			shell = "sh" // the gateway runs these with busybox ash: POSIX only
		case "#!/usr/bin/env bash", "#!/bin/bash":
			shell = "bash"
		default:
			t.Errorf("%s: unexpected interpreter line %q", p, first)
			continue
		}
		if out, err := run(t, os.Environ(), shell, "-n", p); err != nil {
			t.Errorf("%s -n %s: %v\n%s", shell, p, err, out)
		}
		if errSC == nil {
			if out, err := run(t, os.Environ(), "shellcheck", "-s", shell, p); err != nil {
				t.Errorf("shellcheck %s:\n%s", p, out)
			}
		}
	}
	if errSC != nil {
		t.Log("shellcheck not installed: only sh -n / bash -n ran")
	}
}

// ---------------------------------------------------------------------------
// The recorder's init script and supervisor

func TestInitScriptStartsRecorder(t *testing.T) {
	s90 := read(t, initd+"/S90edgerec")
	if !strings.Contains(s90, "SUPERVISE=/usr/libexec/edgerec/supervise") || !strings.Contains(s90, `-x "$SUPERVISE"`) {
		t.Errorf("S90edgerec does not start /usr/libexec/edgerec/supervise:\n%s", s90)
	}
	// The documented command line, with the gateway's defaults.
	out, err := run(t, cleanEnv(), libexec+"/supervise", "--print")
	if err != nil {
		t.Fatal(err, out)
	}
	if got, want := strings.TrimSpace(out), "/usr/bin/edgerec run --config /data/edgerec/edgerec.yaml"; got != want {
		t.Errorf("supervise runs %q, want %q", got, want)
	}
	// The init scripts run in rcS order: data, first boot, time, recorder.
	var order []string
	ents, _ := os.ReadDir(initd)
	for _, e := range ents {
		order = append(order, e.Name())
	}
	want := []string{"S12edgerec-data", "S13edgerec-firstboot", "S45edgerec-timesync", "S60edgerec-maintenance", "S90edgerec"}
	if !sort.StringsAreSorted(order) || strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("init scripts %v, want %v", order, want)
	}
}

func fakeEdgerec(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "fake-edgerec")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSuperviseRespawns(t *testing.T) {
	dir := t.TempDir()
	argsLog := filepath.Join(dir, "args")
	bin := fakeEdgerec(t, dir, `echo "$*" >>"`+argsLog+`"; exit 3`+"\n")
	cfg := filepath.Join(dir, "edgerec.yaml")
	os.WriteFile(cfg, []byte("x"), 0o600)
	out, err := run(t, cleanEnv("EDGEREC_BIN="+bin, "EDGEREC_CONFIG="+cfg, "EDGEREC_SYSLOG=0",
		"EDGEREC_MAX_STARTS=3", "EDGEREC_BACKOFF_MAX=1"), libexec+"/supervise")
	if err != nil {
		t.Fatal(err, out)
	}
	lines := strings.Split(strings.TrimSpace(read(t, argsLog)), "\n")
	if len(lines) != 3 {
		t.Fatalf("started %d times, want 3 (respawn):\n%s", len(lines), out)
	}
	for _, l := range lines {
		if l != "run --config "+cfg {
			t.Errorf("started with %q", l)
		}
	}
	if !strings.Contains(out, "exited with status 3") {
		t.Errorf("no exit status in the log:\n%s", out)
	}
}

func TestSuperviseForwardsSIGTERM(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "got-term")
	started := filepath.Join(dir, "started")
	bin := fakeEdgerec(t, dir, `trap 'echo TERM >"`+got+`"; exit 0' TERM
echo up >"`+started+`"
while :; do sleep 0.1; done
`)
	cfg := filepath.Join(dir, "edgerec.yaml")
	os.WriteFile(cfg, []byte("x"), 0o600)
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	logText := func() string { return read(t, logf.Name()) }
	cmd := exec.Command(libexec + "/supervise")
	cmd.Env = cleanEnv("EDGEREC_BIN="+bin, "EDGEREC_CONFIG="+cfg, "EDGEREC_SYSLOG=0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("supervise exited with %v\n%s", err, logText())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("supervise did not stop on SIGTERM\n%s", logText())
	}
	if _, err := os.Stat(got); err != nil {
		t.Errorf("edgerec did not get SIGTERM\n%s", logText())
	}
}

func TestNTPEventMarker(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "run", "clock-synced")
	tf := filepath.Join(dir, "last-time")
	ev := func(arg, stratum string) {
		t.Helper()
		if out, err := run(t, cleanEnv("EDGEREC_RUN_DIR="+filepath.Join(dir, "run"), "EDGEREC_TIME_FILE="+tf, "stratum="+stratum), libexec+"/ntp-event", arg); err != nil {
			t.Fatal(err, out)
		}
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	ev("periodic", "16")
	if exists(marker) {
		t.Error("marked synced at stratum 16")
	}
	ev("stratum", "2")
	if !exists(marker) || !exists(tf) {
		t.Error("not marked synced at stratum 2 (or time not saved)")
	}
	ev("unsync", "16")
	if exists(marker) {
		t.Error("still marked synced after unsync")
	}
}

// ---------------------------------------------------------------------------
// First boot

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// edgerecBinary builds the real host binary once (cgo, openh264).
func edgerecBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building edgerec")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edgerec-buildroot-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "edgerec")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/edgerec")
		cmd.Dir = ".."
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

type fbEnv struct {
	boot, data, bundle string
	led                string // a fake sysfs LED directory
}

func newFB(t *testing.T) fbEnv {
	t.Helper()
	d := t.TempDir()
	e := fbEnv{boot: filepath.Join(d, "boot"), data: filepath.Join(d, "data", "edgerec")}
	e.bundle = filepath.Join(e.boot, "edgerec-bundle")
	os.MkdirAll(e.bundle, 0o755)
	e.led = filepath.Join(d, "led")
	os.MkdirAll(e.led, 0o755)
	os.WriteFile(filepath.Join(e.led, "trigger"), []byte("mmc0\n"), 0o644)
	os.WriteFile(filepath.Join(e.boot, "config.txt"), []byte("kernel=Image\n"), 0o644)
	return e
}

func (e fbEnv) put(t *testing.T, name, content string) {
	t.Helper()
	p := filepath.Join(e.bundle, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e fbEnv) run(t *testing.T, bin string) (string, error) {
	t.Helper()
	return run(t, cleanEnv("EDGEREC_BOOT_DIR="+e.boot, "EDGEREC_DATA_DIR="+e.data, "EDGEREC_BIN="+bin,
		"EDGEREC_REQUIRE_DATA_MOUNT=0", "EDGEREC_LED="+e.led), libexec+"/firstboot")
}

const secretKey = "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL-4711\n-----END PRIVATE KEY-----\n"

// uplinkPair is a real client certificate and key (PEM): provision checks
// that they pair before it seals the key (issue 13).
func uplinkPair(t *testing.T) (certPEM, keyPEM, keyBody string) {
	t.Helper()
	c := uplinktest.NewCerts(t, t.TempDir())
	cb, err := os.ReadFile(c.ClientCert)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(c.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(kb), "\n")
	return string(cb), string(kb), lines[1]
}

func (e fbEnv) yaml(id string) string {
	return `# installer's config
device:
  id: ` + id + `   # gateway
  site: "Branch 12"
storage: {data_dir: /data/edgerec, ring_size: 32MiB}
cameras: []
lan: {listen: "127.0.0.1:8443"}
uplink:
  broker: "mqtts://broker.example:8883"
  ca: ` + e.data + `/uplink/ca.pem
  cert: ` + e.data + `/uplink/cert.pem
  key: ` + e.data + `/uplink/key.pem
`
}

// bootHolds reports whether any file under the boot dir contains s.
func bootHolds(t *testing.T, boot, s string) bool {
	t.Helper()
	found := false
	filepath.Walk(boot, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(s)) {
				found = true
			}
		}
		return nil
	})
	return found
}

func TestFirstbootProvisionsAndDeletesSecrets(t *testing.T) {
	bin := edgerecBinary(t)
	e := newFB(t)
	certPEM, keyPEM, keyBody := uplinkPair(t)
	e.put(t, "edgerec.yaml", e.yaml("gw-0042"))
	e.put(t, "uplink/ca.pem", "CA\n")
	e.put(t, "uplink/cert.pem", certPEM)
	e.put(t, "uplink/key.pem", keyPEM)
	e.put(t, "maintenance/authorized_keys", "ssh-ed25519 AAAA test\n")
	out, err := e.run(t, bin)
	if err != nil {
		t.Fatalf("firstboot: %v\n%s", err, out)
	}
	// Provisioned: config, keys, ring; the secrets moved with tight modes,
	// the uplink key sealed (issue 13, R32).
	for name, mode := range map[string]os.FileMode{"edgerec.yaml": 0o600, "root.key": 0o600, "ring": 0o600,
		"uplink/key.sealed": 0o600, "uplink/cert.pem": 0o644, "uplink/ca.pem": 0o644, "maintenance/authorized_keys": 0o600} {
		fi, err := os.Stat(filepath.Join(e.data, name))
		if err != nil {
			t.Errorf("data: %v", err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	if _, err := os.Stat(filepath.Join(e.data, "uplink/key.pem")); !os.IsNotExist(err) {
		t.Errorf("the plain uplink key is still in the data dir: %v", err)
	}
	if bootHolds(t, e.data, keyBody) {
		t.Error("the uplink key is readable in the data dir")
	}
	if c := read(t, filepath.Join(e.data, "edgerec.yaml")); !strings.Contains(c, "key: vault:uplink/key") {
		t.Errorf("installed config does not refer to the sealed key:\n%s", c)
	}
	if c := read(t, filepath.Join(e.data, "edgerec.yaml")); !strings.Contains(c, "id: gw-0042") || !strings.Contains(c, "data_dir: "+e.data) {
		t.Errorf("installed config:\n%s", c)
	}
	if ck, err := run(t, os.Environ(), bin, "check", "--data", e.data); err != nil {
		t.Errorf("edgerec check: %v\n%s", err, ck)
	}
	// Deleted from the boot partition; a note without secrets left.
	if _, err := os.Stat(e.bundle); !os.IsNotExist(err) {
		t.Errorf("bundle still on the boot partition: %v", err)
	}
	if bootHolds(t, e.boot, keyBody) {
		t.Error("the key is still readable on the boot partition")
	}
	if n := read(t, filepath.Join(e.boot, "edgerec-provisioned.txt")); !strings.Contains(n, "gw-0042") {
		t.Errorf("note: %s", n)
	}
	if _, err := os.Stat(filepath.Join(e.boot, "config.txt")); err != nil {
		t.Error("firstboot touched other boot files")
	}

	// Second boot with a new bundle: not applied, deleted.
	e.put(t, "edgerec.yaml", e.yaml("gw-9999"))
	e.put(t, "uplink/key.pem", "OTHER-SECRET\n")
	e.put(t, "uplink/cert.pem", "C2\n")
	before := read(t, filepath.Join(e.data, "edgerec.yaml"))
	if out, err := e.run(t, bin); err != nil {
		t.Fatalf("second boot: %v\n%s", err, out)
	}
	if read(t, filepath.Join(e.data, "edgerec.yaml")) != before {
		t.Error("an existing device was re-provisioned")
	}
	if _, err := os.Stat(e.bundle); !os.IsNotExist(err) || bootHolds(t, e.boot, "OTHER-SECRET") {
		t.Error("ignored bundle not deleted")
	}
	if _, err := os.Stat(filepath.Join(e.boot, "edgerec-bundle-IGNORED.txt")); err != nil {
		t.Error("no IGNORED note")
	}
	// Third boot, no bundle: nothing happens.
	if out, err := e.run(t, bin); err != nil || !strings.Contains(out, "no edgerec-bundle") {
		t.Errorf("no-bundle boot: %v\n%s", err, out)
	}
}

func TestFirstbootFailureKeepsBundle(t *testing.T) {
	bin := edgerecBinary(t)
	e := newFB(t)
	// device-id file disagrees with device.id: provision refuses.
	e.put(t, "edgerec.yaml", e.yaml("gw-0042"))
	e.put(t, "device-id", "gw-other\n")
	certPEM, keyPEM, _ := uplinkPair(t)
	e.put(t, "uplink/cert.pem", certPEM)
	e.put(t, "uplink/key.pem", keyPEM)
	out, err := e.run(t, bin)
	if err == nil {
		t.Fatalf("firstboot succeeded with a mismatched device id:\n%s", out)
	}
	errNote := read(t, filepath.Join(e.boot, "edgerec-bundle-ERROR.txt"))
	if led := read(t, filepath.Join(e.led, "trigger")); strings.TrimSpace(led) != "timer" || strings.TrimSpace(read(t, filepath.Join(e.led, "delay_on"))) != "100" {
		t.Errorf("status LED not set to the fault blink: trigger %q", led)
	}
	if !strings.Contains(errNote, "differs from device.id") {
		t.Errorf("error note does not say why: %s", errNote)
	}
	if _, err := os.Stat(filepath.Join(e.bundle, "uplink/key.pem")); err != nil {
		t.Error("bundle removed after a failure (installer cannot fix it)")
	}
	if _, err := os.Stat(filepath.Join(e.data, "uplink/key.pem")); !os.IsNotExist(err) {
		t.Error("secrets left in the data dir after a failed provision")
	}
	if _, err := os.Stat(filepath.Join(e.data, "edgerec.yaml")); !os.IsNotExist(err) {
		t.Error("config installed after a failure")
	}
	// Fixed by the installer: the next boot provisions.
	os.Remove(filepath.Join(e.bundle, "device-id"))
	if out, err := e.run(t, bin); err != nil {
		t.Fatalf("after fix: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(e.boot, "edgerec-bundle-ERROR.txt")); !os.IsNotExist(err) {
		t.Error("stale ERROR note")
	}
}

func TestFirstbootBundleChecks(t *testing.T) {
	dir := t.TempDir()
	argsLog := filepath.Join(dir, "args")
	// A fake edgerec: records its arguments, writes the config like provision.
	fake := fakeEdgerec(t, dir, `echo "$*" >"`+argsLog+`"
[ "$1" = provision ] || exit 2
mkdir -p "$3" && echo ok >"$3/edgerec.yaml"
`)
	cases := []struct {
		name    string
		files   map[string]string
		wantErr string // "" = success
		args    string // expected provision arguments (with DATA and BUNDLE)
	}{
		{"block-style id", map[string]string{"edgerec.yaml": "device:\n  site: x\n  id: \"gw-block\"  # c\nstorage: {ring_size: 1GiB}\n"}, "",
			"provision --data DATA --device-id gw-block --config BUNDLE/edgerec.yaml"},
		{"flow-style id", map[string]string{"edgerec.yaml": "device: {site: \"Branch, 1\", id: gw-flow}\n"}, "",
			"provision --data DATA --device-id gw-flow --config BUNDLE/edgerec.yaml"},
		{"device-id file and ring size", map[string]string{"edgerec.yaml": "device: {id: gw-a}\n", "device-id": "gw-a\n", "ring-size": "48GiB\n"}, "",
			"provision --data DATA --device-id gw-a --config BUNDLE/edgerec.yaml --ring-size 48GiB"},
		{"no yaml", map[string]string{"device-id": "gw-a"}, "edgerec.yaml is missing", ""},
		{"unexpected file", map[string]string{"edgerec.yaml": "device: {id: gw-a}\n", "uplink/client.key": "x"}, "unexpected files in edgerec-bundle: uplink/client.key", ""},
		{"cert without key", map[string]string{"edgerec.yaml": "device: {id: gw-a}\n", "uplink/cert.pem": "x"}, "go together", ""},
		{"no id", map[string]string{"edgerec.yaml": "storage: {ring_size: 1GiB}\n"}, "no device.id", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newFB(t)
			for n, v := range c.files {
				e.put(t, n, v)
			}
			os.Remove(argsLog)
			out, err := e.run(t, fake)
			if c.wantErr != "" {
				if err == nil {
					t.Fatalf("succeeded, want error %q\n%s", c.wantErr, out)
				}
				if note := read(t, filepath.Join(e.boot, "edgerec-bundle-ERROR.txt")); !strings.Contains(note, c.wantErr) {
					t.Errorf("note %q, want %q", note, c.wantErr)
				}
				if _, err := os.Stat(argsLog); err == nil {
					t.Error("edgerec was run for a bad bundle")
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got := strings.TrimSpace(read(t, argsLog))
			want := strings.NewReplacer("DATA", e.data, "BUNDLE", e.bundle).Replace(c.args)
			if got != want {
				t.Errorf("edgerec %s\nwant    %s", got, want)
			}
		})
	}

	t.Run("incomplete data dir moved aside", func(t *testing.T) {
		e := newFB(t)
		e.put(t, "edgerec.yaml", "device: {id: gw-a}\n")
		os.MkdirAll(e.data, 0o700)
		os.WriteFile(filepath.Join(e.data, "root.key"), []byte("half"), 0o600)
		if out, err := e.run(t, fake); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		aside, _ := filepath.Glob(e.data + ".incomplete.*")
		if len(aside) != 1 {
			t.Errorf("incomplete dir not moved aside: %v", aside)
		}
	})

	t.Run("requires the data partition", func(t *testing.T) {
		e := newFB(t)
		e.put(t, "edgerec.yaml", "device: {id: gw-a}\n")
		out, err := run(t, cleanEnv("EDGEREC_BOOT_DIR="+e.boot, "EDGEREC_DATA_DIR="+e.data, "EDGEREC_BIN="+fake), libexec+"/firstboot")
		if err == nil || !strings.Contains(out, "data partition is not mounted") {
			t.Errorf("want a refusal without the data partition: %v\n%s", err, out)
		}
	})
}

// ---------------------------------------------------------------------------
// Data partition (loop device)

type loopDev struct {
	t    *testing.T
	dev  string
	file string
}

func newLoop(t *testing.T, size int64, table string) *loopDev {
	t.Helper()
	f := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f, size); err != nil {
		t.Fatal(err)
	}
	if table != "" {
		cmd := exec.Command("sfdisk", "-q", f)
		cmd.Stdin = strings.NewReader(table)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sfdisk: %v\n%s", err, out)
		}
	}
	out, err := exec.Command("losetup", "-f", "--show", "-P", f).CombinedOutput()
	if err != nil {
		t.Skipf("losetup: %v %s", err, out)
	}
	l := &loopDev{t: t, dev: strings.TrimSpace(string(out)), file: f}
	t.Cleanup(func() {
		exec.Command("losetup", "-d", l.dev).Run()
	})
	l.partx()
	return l
}

// partx makes the kernel's partition list match the table (losetup -P does
// not scan in every environment).
func (l *loopDev) partx() {
	exec.Command("partx", "-a", l.dev).Run()
	exec.Command("partx", "-u", l.dev).Run()
}

func mountTmp(t *testing.T, dev string) string {
	t.Helper()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", dev, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v %s", dev, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}

func TestDataPartitionOnLoop(t *testing.T) {
	needRootLoop(t)
	need(t, "e2fsck", "resize2fs", "blkid")
	l := newLoop(t, 96<<20, "label: dos\n,8M,c\n,16M,83\n,16M,83\n")
	mnt := t.TempDir()
	env := cleanEnv("EDGEREC_DISK="+l.dev, "EDGEREC_DATA_MNT="+mnt)
	dp := abs(t, libexec+"/data-partition")
	umount := func() { exec.Command("umount", mnt).Run() }
	t.Cleanup(umount)

	out, err := run(t, env, dp)
	if err != nil {
		t.Fatalf("first boot: %v\n%s", err, out)
	}
	p4 := l.dev + "p4"
	lbl, _ := exec.Command("blkid", "-o", "value", "-s", "LABEL", p4).Output()
	if strings.TrimSpace(string(lbl)) != "edgerec-data" {
		t.Errorf("p4 label %q", lbl)
	}
	if fi, err := os.Stat(filepath.Join(mnt, "edgerec")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("edgerec dir on data: %v", err)
	}
	endSector := func() (int64, int64) {
		var start, size, total int64
		readInt := func(p string) int64 {
			b, _ := os.ReadFile(p)
			var v int64
			for _, c := range strings.TrimSpace(string(b)) {
				v = v*10 + int64(c-'0')
			}
			return v
		}
		base := filepath.Base(l.dev)
		start = readInt("/sys/class/block/" + base + "p4/start")
		size = readInt("/sys/class/block/" + base + "p4/size")
		total = readInt("/sys/class/block/" + base + "/size")
		return start + size, total
	}
	if end, total := endSector(); total-end > 2048 {
		t.Errorf("p4 ends at %d of %d sectors: not grown to the card", end, total)
	}
	os.WriteFile(filepath.Join(mnt, "edgerec", "keep"), []byte("data"), 0o600)
	umount()

	// Second boot: same file system, kept data.
	if out, err := run(t, env, dp); err != nil {
		t.Fatalf("second boot: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "edgerec", "keep")); err != nil || string(b) != "data" {
		t.Error("data lost on the second boot")
	}
	umount()

	// The card got bigger (image cloned to a larger card): grown, data kept.
	if err := os.Truncate(l.file, 160<<20); err != nil {
		t.Fatal(err)
	}
	exec.Command("losetup", "-c", l.dev).Run()
	l.partx()
	if out, err := run(t, env, dp); err != nil || !strings.Contains(out, "growing") {
		t.Fatalf("grow: %v\n%s", err, out)
	}
	if end, total := endSector(); total-end > 2048 {
		t.Errorf("after grow p4 ends at %d of %d sectors", end, total)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "edgerec", "keep")); err != nil || string(b) != "data" {
		t.Error("data lost when growing")
	}
	umount()

	// A foreign layout is never touched.
	l2 := newLoop(t, 64<<20, "label: dos\n,8M,c\n,8M,83\n,8M,83\n,8M,83\n")
	env2 := cleanEnv("EDGEREC_DISK="+l2.dev, "EDGEREC_DATA_MNT="+t.TempDir())
	if out, err := exec.Command("mkfs.ext4", "-q", "-L", "other", l2.dev+"p4").CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	out, err = run(t, env2, dp)
	if err == nil || !strings.Contains(out, "not touching it") {
		t.Errorf("foreign p4 accepted: %v\n%s", err, out)
	}
}

// ---------------------------------------------------------------------------
// flash.sh

const flash = "../scripts/flash.sh"

// testImage makes a small "sdcard.img": MBR, FAT partition 1, partition 2,
// and an odd length (not a multiple of 512) of random bytes.
func testImage(t *testing.T) string {
	t.Helper()
	need(t, "sfdisk", "mkfs.vfat")
	dir := t.TempDir()
	img := filepath.Join(dir, "sdcard.img")
	os.WriteFile(img, nil, 0o644)
	os.Truncate(img, 20<<20)
	cmd := exec.Command("sfdisk", "-q", img)
	cmd.Stdin = strings.NewReader("label: dos\n,12M,c\n,,83\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	vfat := filepath.Join(dir, "boot.vfat")
	if out, err := exec.Command("mkfs.vfat", "-C", vfat, "12288").CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	if out, err := exec.Command("dd", "if="+vfat, "of="+img, "bs=1M", "seek=1", "conv=notrunc", "status=none").CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	f, _ := os.OpenFile(img, os.O_APPEND|os.O_WRONLY, 0)
	tail := make([]byte, 1<<20+333)
	rand.Read(tail)
	f.Write(tail)
	f.Close()
	return img
}

func testBundle(t *testing.T) string {
	t.Helper()
	b := t.TempDir()
	os.MkdirAll(filepath.Join(b, "uplink"), 0o700)
	os.WriteFile(filepath.Join(b, "edgerec.yaml"), []byte("device: {id: gw-1}\n"), 0o600)
	os.WriteFile(filepath.Join(b, "uplink", "cert.pem"), []byte("CERT\n"), 0o600)
	os.WriteFile(filepath.Join(b, "uplink", "key.pem"), []byte(secretKey), 0o600)
	return b
}

func samePrefix(t *testing.T, img, dev string) {
	t.Helper()
	a, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, len(a))
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	// Partition 1 changes when a bundle is copied; compare around it.
	if !bytes.Equal(a[:512], b[:512]) || !bytes.Equal(a[13<<20:], b[13<<20:]) {
		t.Errorf("%s does not hold the image", dev)
	}
}

func bundleOnCard(t *testing.T, dev string) string {
	t.Helper()
	need(t, "mtype")
	cmd := exec.Command("mtype", "-i", dev+"@@1048576", "::/edgerec-bundle/uplink/key.pem")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mtype: %v", err)
	}
	return string(out)
}

func TestFlashToFile(t *testing.T) {
	img := testImage(t)
	dir := t.TempDir()

	t.Run("write and verify", func(t *testing.T) {
		out := filepath.Join(dir, "card.img")
		got, err := run(t, os.Environ(), flash, img, out, "--allow-file", "--yes")
		if err != nil {
			t.Fatalf("%v\n%s", err, got)
		}
		if !strings.Contains(got, "verified:") {
			t.Errorf("no verification:\n%s", got)
		}
		a, _ := os.ReadFile(img)
		b, _ := os.ReadFile(out)
		if !bytes.Equal(a, b) {
			t.Error("written file differs from the image")
		}
	})
	t.Run("bundle", func(t *testing.T) {
		need(t, "mcopy")
		out := filepath.Join(dir, "card-bundle.img")
		got, err := run(t, os.Environ(), flash, img, out, "--allow-file", "--yes", "--bundle", testBundle(t))
		if err != nil {
			t.Fatalf("%v\n%s", err, got)
		}
		samePrefix(t, img, out)
		if bundleOnCard(t, out) != secretKey {
			t.Error("bundle key not on the boot partition")
		}
	})
	t.Run("not confirmed", func(t *testing.T) {
		out := filepath.Join(dir, "untouched.img")
		os.WriteFile(out, []byte("keep"), 0o644)
		cmd := exec.Command(flash, img, out, "--allow-file")
		cmd.Stdin = strings.NewReader("no\n")
		got, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(got), "not confirmed") {
			t.Errorf("want 'not confirmed': %v\n%s", err, got)
		}
		if read(t, out) != "keep" {
			t.Error("written without confirmation")
		}
		// Typing the path confirms.
		cmd = exec.Command(flash, img, out, "--allow-file")
		cmd.Stdin = strings.NewReader(out + "\n")
		if got, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("confirmed by path: %v\n%s", err, got)
		}
	})
	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"regular file without --allow-file", []string{img, filepath.Join(dir, "card.img"), "--yes"}, "not a block device"},
		{"image onto itself", []string{img, img, "--allow-file", "--yes"}, "is the image itself"},
		{"compressed image", []string{img + ".xz", "/dev/null", "--yes"}, "not a readable file"},
		{"bad bundle", []string{img, filepath.Join(dir, "x.img"), "--allow-file", "--yes", "--bundle", dir}, "edgerec.yaml is missing"},
		{"missing device", []string{img, "/dev/edgerec-no-such-disk", "--yes"}, "no such device"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			got, err := run(t, os.Environ(), flash, r.args...)
			if err == nil || !strings.Contains(got, r.want) {
				t.Errorf("want failure %q, got %v\n%s", r.want, err, got)
			}
		})
	}
	t.Run("unexpected bundle file", func(t *testing.T) {
		b := testBundle(t)
		os.WriteFile(filepath.Join(b, "notes.docx"), []byte("x"), 0o600)
		got, err := run(t, os.Environ(), flash, img, filepath.Join(dir, "y.img"), "--allow-file", "--yes", "--bundle", b)
		if err == nil || !strings.Contains(got, "unexpected files: notes.docx") {
			t.Errorf("%v\n%s", err, got)
		}
		if _, err := os.Stat(filepath.Join(dir, "y.img")); !os.IsNotExist(err) {
			t.Error("written despite a bad bundle")
		}
	})
}

// rootDisk finds the disk of / independently of flash.sh (lsblk).
func rootDisk(t *testing.T) string {
	t.Helper()
	need(t, "findmnt", "lsblk")
	src, err := exec.Command("findmnt", "-n", "-o", "SOURCE", "/").Output()
	if err != nil {
		t.Skip("findmnt /:", err)
	}
	s := strings.TrimSpace(string(src))
	if i := strings.IndexByte(s, '['); i >= 0 {
		s = s[:i]
	}
	if fi, err := os.Stat(s); err != nil || fi.Mode()&os.ModeDevice == 0 {
		t.Skipf("/ is not on a block device here (%q): root-disk refusal not testable", s)
	}
	out, err := exec.Command("lsblk", "-n", "-s", "-p", "-r", "-o", "NAME,TYPE", s).Output()
	if err != nil {
		t.Skip("lsblk:", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[1] == "disk" {
			return f[0]
		}
	}
	t.Skipf("no disk under %s", s)
	return ""
}

func TestFlashRefusesRootDisk(t *testing.T) {
	img := testImage(t)
	disk := rootDisk(t)
	// --dry-run: even a detection bug cannot write to the system disk.
	got, err := run(t, os.Environ(), flash, img, disk, "--yes", "--dry-run")
	if err == nil || !strings.Contains(got, "REFUSING") || !strings.Contains(got, "root file system") {
		t.Errorf("flash.sh %s (the root disk): %v\n%s", disk, err, got)
	}
}

func TestFlashLoopDevice(t *testing.T) {
	needRootLoop(t)
	img := testImage(t)

	t.Run("write, verify, bundle", func(t *testing.T) {
		need(t, "mcopy")
		l := newLoop(t, 32<<20, "")
		got, err := run(t, os.Environ(), flash, img, l.dev, "--yes", "--bundle", testBundle(t))
		if err != nil {
			t.Fatalf("%v\n%s", err, got)
		}
		if !strings.Contains(got, "verified:") || !strings.Contains(got, "bundle: 3 files") {
			t.Errorf("output:\n%s", got)
		}
		samePrefix(t, img, l.file)
		if bundleOnCard(t, l.dev) != secretKey {
			t.Error("bundle not on the card")
		}
	})
	t.Run("mounted partition", func(t *testing.T) {
		l := newLoop(t, 32<<20, "label: dos\n,8M,c\n,,83\n")
		if out, err := exec.Command("mkfs.ext4", "-q", l.dev+"p2").CombinedOutput(); err != nil {
			t.Fatal(err, string(out))
		}
		mountTmp(t, l.dev+"p2")
		before, _ := os.ReadFile(l.file)
		got, err := run(t, os.Environ(), flash, img, l.dev, "--yes")
		if err == nil || !strings.Contains(got, "p2 is mounted on") {
			t.Errorf("want refusal of a disk with a mounted partition: %v\n%s", err, got)
		}
		after, _ := os.ReadFile(l.file)
		if !bytes.Equal(before[:1<<20], after[:1<<20]) {
			t.Error("the disk was written")
		}
	})
	t.Run("mounted whole disk", func(t *testing.T) {
		l := newLoop(t, 32<<20, "")
		if out, err := exec.Command("mkfs.ext4", "-q", l.dev).CombinedOutput(); err != nil {
			t.Fatal(err, string(out))
		}
		mountTmp(t, l.dev)
		got, err := run(t, os.Environ(), flash, img, l.dev, "--yes")
		if err == nil || !strings.Contains(got, "is mounted on") {
			t.Errorf("want refusal of a mounted disk: %v\n%s", err, got)
		}
	})
	t.Run("partition, too small", func(t *testing.T) {
		l := newLoop(t, 32<<20, "label: dos\n,8M,c\n,,83\n")
		if got, err := run(t, os.Environ(), flash, img, l.dev+"p1", "--yes"); err == nil || !strings.Contains(got, "is a partition") {
			t.Errorf("partition accepted: %v\n%s", err, got)
		}
		small := newLoop(t, 8<<20, "")
		if got, err := run(t, os.Environ(), flash, img, small.dev, "--yes"); err == nil || !strings.Contains(got, "too small") {
			t.Errorf("small device accepted: %v\n%s", err, got)
		}
	})
}

// ---------------------------------------------------------------------------
// install.sh

func TestInstallStaging(t *testing.T) {
	bin := edgerecBinary(t)
	root := t.TempDir()
	inst := "../scripts/install.sh"
	out, err := run(t, cleanEnv(), inst, "--root", root, "--binary", bin, "--device-id", "gw-jetson-1", "--ring-size", "16MiB")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if fi, err := os.Stat(filepath.Join(root, "usr/local/bin/edgerec")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("binary: %v", err)
	}
	unit := read(t, filepath.Join(root, "etc/systemd/system/edgerec.service"))
	for _, want := range []string{
		"ExecStart=/usr/local/bin/edgerec run --config /var/lib/edgerec/edgerec.yaml",
		"Restart=always", "User=edgerec", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/edgerec",
		"ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
		"MemoryDenyWriteExecute=yes", "DevicePolicy=closed", "DeviceAllow=char-video4linux rw", "WantedBy=multi-user.target",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	data := filepath.Join(root, "var/lib/edgerec")
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "edgerec.yaml")); err != nil {
		t.Errorf("not provisioned: %v\n%s", err, out)
	}
	// Re-run (upgrade): the device is kept.
	before := read(t, filepath.Join(data, "root.key"))
	out, err = run(t, cleanEnv(), inst, "--root", root, "--binary", bin, "--device-id", "gw-jetson-1")
	if err != nil || !strings.Contains(out, "already provisioned") {
		t.Errorf("re-run: %v\n%s", err, out)
	}
	if read(t, filepath.Join(data, "root.key")) != before {
		t.Error("re-run replaced the device key")
	}
	// systemd's own view of the hardening, where systemd-analyze exists.
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		out, err := run(t, os.Environ(), "systemd-analyze", "security", "--offline=true", "--root="+root, "--threshold=30", "edgerec.service") // 0..100 internally; shown as 3.0
		if err != nil {
			t.Errorf("systemd-analyze security (exposure must be <= 3.0): %v\n%s", err, out)
		}
		if i := strings.LastIndex(out, "→"); i >= 0 {
			t.Log(strings.TrimSpace(out[i:]))
		}
	}
	if out, err := run(t, cleanEnv(), inst, "--root", root, "--binary", bin); err == nil || !strings.Contains(out, "--device-id is required") {
		t.Errorf("no --device-id: %v\n%s", err, out)
	}
}

// ---------------------------------------------------------------------------
// Against a real Buildroot checkout (EDGEREC_BUILDROOT=/path; never downloads)

func TestBuildrootDefconfig(t *testing.T) {
	br := os.Getenv("EDGEREC_BUILDROOT")
	if br == "" {
		t.Skip("set EDGEREC_BUILDROOT=/path/to/buildroot-2026.02.3 to check the defconfigs against Buildroot")
	}
	need(t, "make", "gcc")
	ext := abs(t, ".")
	for _, dc := range defconfigs {
		name := filepath.Base(dc)
		t.Run(name, func(t *testing.T) {
			o := t.TempDir()
			saved := filepath.Join(o, "saved_defconfig")
			if out, err := run(t, cleanEnv(), "make", "-C", br, "O="+o, "BR2_EXTERNAL="+ext, name); err != nil {
				t.Fatalf("make %s: %v\n%s", name, err, out)
			}
			// BR2_DEFCONFIG elsewhere: savedefconfig must not rewrite ours.
			if out, err := run(t, cleanEnv(), "make", "-C", br, "O="+o, "savedefconfig", "BR2_DEFCONFIG="+saved); err != nil {
				t.Fatalf("savedefconfig: %v\n%s", err, out)
			}
			want := optionLines(read(t, dc))
			got := optionLines(read(t, saved))
			if strings.Join(want, "\n") != strings.Join(got, "\n") {
				t.Errorf("savedefconfig differs from %s:\nours:  %v\nsaved: %v", dc, want, got)
			}
			cfg := read(t, filepath.Join(o, ".config"))
			for _, l := range want {
				if strings.HasPrefix(l, "BR2_") && !strings.Contains(cfg, "\n"+l+"\n") {
					t.Errorf(".config lost %s", l)
				}
			}
		})
	}
}

// optionLines returns the sorted option lines (set and "is not set").
func optionLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "BR2_") || (strings.HasPrefix(l, "# BR2_") && strings.HasSuffix(l, " is not set")) {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// layoutConf reads board/edgerec/common/layout.conf (NAME=VALUE lines).
func layoutConf(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(read(t, "board/edgerec/common/layout.conf"), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			m[k] = v
		}
	}
	for _, k := range []string{"BOOT_LABEL", "BOOT_OFFSET", "BOOT_SIZE", "ROOTFS_SIZE", "DATA_LABEL"} {
		if m[k] == "" {
			t.Fatalf("layout.conf lacks %s", k)
		}
	}
	return m
}

func mib(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSuffix(s, "M"), 10, 64)
	if err != nil || !strings.HasSuffix(s, "M") {
		t.Fatalf("layout size %q: want NNNM", s)
	}
	return n
}

// D1 (issue 16): one layout description. The Pi image (post-image.sh) and
// the emulated board (scripts/qemu-gateway.sh) both get genimage.cfg from
// genimage-cfg.sh, which fills genimage.cfg.in from layout.conf; no other
// file states the numbers, and the defconfigs' rootfs size and the data
// partition's label agree with it. With genimage installed, the card it
// builds has exactly the layout's partitions.
func TestLayoutOneDescription(t *testing.T) {
	lay := layoutConf(t)
	gi := read(t, "board/edgerec/common/genimage.cfg.in")
	if regexp.MustCompile(`(?m)^\s*(size|offset)\s*=\s*[0-9]`).MatchString(gi) {
		t.Errorf("genimage.cfg.in states a size or offset itself; they belong in layout.conf:\n%s", gi)
	}
	if !strings.Contains(read(t, "board/edgerec/common/post-image.sh"), "genimage-cfg.sh") {
		t.Error("post-image.sh does not use genimage-cfg.sh")
	}
	qg := read(t, "../scripts/qemu-gateway.sh")
	if !strings.Contains(qg, "genimage-cfg.sh") || !strings.Contains(qg, "layout.conf") || !strings.Contains(qg, `"$ROOTFS_SIZE"`) {
		t.Error("scripts/qemu-gateway.sh does not build from layout.conf and genimage-cfg.sh")
	}
	for _, k := range []string{"BOOT_SIZE", "ROOTFS_SIZE", "BOOT_OFFSET"} {
		if strings.Contains(qg, "="+lay[k]) || strings.Contains(qg, " "+lay[k]+" ") {
			t.Errorf("scripts/qemu-gateway.sh states %s (%s) itself", k, lay[k])
		}
	}
	for _, dc := range defconfigs {
		if !strings.Contains(read(t, dc), `BR2_TARGET_ROOTFS_EXT2_SIZE="`+lay["ROOTFS_SIZE"]+`"`) {
			t.Errorf("%s: BR2_TARGET_ROOTFS_EXT2_SIZE is not layout.conf's ROOTFS_SIZE %s", dc, lay["ROOTFS_SIZE"])
		}
	}
	if !strings.Contains(read(t, libexec+"/data-partition"), "LABEL=${EDGEREC_DATA_LABEL:-"+lay["DATA_LABEL"]+"}") {
		t.Errorf("data-partition's default label is not layout.conf's DATA_LABEL %s", lay["DATA_LABEL"])
	}
	cfg, err := run(t, os.Environ(), "board/edgerec/common/genimage-cfg.sh", "Image", "dir/a.dtb")
	if err != nil {
		t.Fatalf("genimage-cfg.sh: %v\n%s", err, cfg)
	}
	for _, want := range []string{`label = "` + lay["BOOT_LABEL"] + `"`, "size = " + lay["BOOT_SIZE"], "offset = " + lay["BOOT_OFFSET"],
		"size = " + lay["ROOTFS_SIZE"], `"Image",`, `"dir/a.dtb",`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("genimage.cfg lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "#") && regexp.MustCompile(`#[A-Z_]+#`).MatchString(cfg) {
		t.Errorf("genimage.cfg has unfilled placeholders:\n%s", cfg)
	}
	if _, err := exec.LookPath("genimage"); err != nil {
		t.Log("genimage not installed: the built card's partition table is not checked")
		return
	}
	need(t, "mkfs.vfat", "mcopy", "mke2fs", "sfdisk")
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(filepath.Join(in, "dir"), 0o755)
	os.WriteFile(filepath.Join(in, "Image"), []byte("kernel"), 0o644)
	os.WriteFile(filepath.Join(in, "dir/a.dtb"), []byte("dtb"), 0o644)
	if out, err := run(t, os.Environ(), "mke2fs", "-q", "-F", "-t", "ext4", filepath.Join(in, "rootfs.ext4"), lay["ROOTFS_SIZE"]); err != nil {
		t.Fatalf("mke2fs: %v %s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "genimage.cfg"), []byte(cfg), 0o644)
	os.MkdirAll(filepath.Join(dir, "root"), 0o755)
	if out, err := run(t, os.Environ(), "genimage", "--rootpath", filepath.Join(dir, "root"), "--tmppath", filepath.Join(dir, "tmp"),
		"--inputpath", in, "--outputpath", filepath.Join(dir, "out"), "--config", filepath.Join(dir, "genimage.cfg")); err != nil {
		t.Fatalf("genimage: %v\n%s", err, out)
	}
	table, err := run(t, os.Environ(), "sfdisk", "-d", filepath.Join(dir, "out", "sdcard.img"))
	if err != nil {
		t.Fatalf("sfdisk -d: %v %s", err, table)
	}
	re := regexp.MustCompile(`start=\s*(\d+), size=\s*(\d+), type=(\w+)`)
	ps := re.FindAllStringSubmatch(table, -1)
	if len(ps) != 3 {
		t.Fatalf("want 3 partitions (boot, rootfs A, rootfs B; data is made at first boot):\n%s", table)
	}
	sec := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	if sec(ps[0][1]) != mib(t, lay["BOOT_OFFSET"])*2048 || sec(ps[0][2]) != mib(t, lay["BOOT_SIZE"])*2048 || ps[0][3] != "c" {
		t.Errorf("boot partition %v, layout offset %s size %s", ps[0][1:], lay["BOOT_OFFSET"], lay["BOOT_SIZE"])
	}
	if sec(ps[1][2]) != mib(t, lay["ROOTFS_SIZE"])*2048 || ps[1][3] != "83" || sec(ps[1][1]) < sec(ps[0][1])+sec(ps[0][2]) {
		t.Errorf("rootfs partition %v, layout size %s", ps[1][1:], lay["ROOTFS_SIZE"])
	}
	if sec(ps[2][2]) != sec(ps[1][2]) || ps[2][3] != "83" || sec(ps[2][1]) < sec(ps[1][1])+sec(ps[1][2]) {
		t.Errorf("rootfs B partition %v: want the size of A (%s) behind A", ps[2][1:], lay["ROOTFS_SIZE"])
	}
}

// TestBootChooser: the A/B slot state machine of boot-chooser (issue 16),
// on a fake boot partition: a new slot is tried TRIES times and becomes
// primary only when marked good; marked bad, its trial ends.
func TestBootChooser(t *testing.T) {
	boot := t.TempDir()
	bc := abs(t, libexec+"/boot-chooser")
	env := cleanEnv("EDGEREC_BOOT_DIR="+boot, "EDGEREC_DISK=/dev/mmcblk0")
	do := func(args ...string) string {
		t.Helper()
		out, err := run(t, env, bc, args...)
		if err != nil {
			t.Fatalf("boot-chooser %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(out)
	}
	state := func() string { return read(t, filepath.Join(boot, "edgerec-slot.txt")) }
	if got := do("get-primary"); got != "A" {
		t.Errorf("fresh card: primary %q, want A", got)
	}
	if got := do("device", "B"); got != "/dev/mmcblk0p3" {
		t.Errorf("slot B device %q", got)
	}
	do("set-primary", "B")
	if s := state(); !strings.Contains(s, "PRIMARY=A\n") || !strings.Contains(s, "TRY=B\n") || !strings.Contains(s, "TRY_LEFT=2\n") {
		t.Errorf("after set-primary B:\n%s", s)
	}
	if got := do("get-primary"); got != "B" {
		t.Errorf("primary during the trial %q", got)
	}
	do("set-state", "B", "good")
	if s := state(); !strings.Contains(s, "PRIMARY=B\n") || !strings.Contains(s, "TRY=\n") {
		t.Errorf("after set-state B good:\n%s", s)
	}
	do("set-primary", "A")
	do("set-state", "A", "bad")
	if s := state(); !strings.Contains(s, "PRIMARY=B\n") || !strings.Contains(s, "TRY=\n") || !strings.Contains(s, "BAD=A\n") {
		t.Errorf("after set-state A bad:\n%s", s)
	}
	if got := do("get-state", "A"); got != "bad" {
		t.Errorf("get-state A %q", got)
	}
	// A damaged state file reads as "boot A, no trial".
	os.WriteFile(filepath.Join(boot, "edgerec-slot.txt"), []byte("PRIMARY=C\nTRY=$(reboot)\n\x00"), 0o644)
	if got := do("get-primary"); got != "A" {
		t.Errorf("damaged state: primary %q", got)
	}
	if out, err := run(t, env, bc, "set-primary", "C"); err == nil {
		t.Errorf("slot C accepted: %s", out)
	}
}

// TestBootChooserConcurrentCallsOnLoop: boot-chooser calls at the same
// time on a real boot partition (a loop device, each call mounting it
// itself as on the gateway). Issue 16: with one shared mount point the
// first call to finish unmounted the partition under the others, which
// then read "no state file" = no trial, and the recorder's is-trial "no"
// rolled a good update back; two writers shared one temporary file name.
// Every reader must see the trial, every call must succeed, and no mount
// may be left behind.
func TestBootChooserConcurrentCallsOnLoop(t *testing.T) {
	needRootLoop(t)
	l := newLoop(t, 40<<20, "label: dos\n,8M,c\n,8M,83\n,8M,83\n")
	// ext4, not FAT: build hosts often have no vfat module; what is under
	// test is the mounting per call, the same for either type.
	if out, err := exec.Command("mkfs.ext4", "-q", l.dev+"p1").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	bc := abs(t, libexec+"/boot-chooser")
	env := cleanEnv("EDGEREC_DISK="+l.dev, "EDGEREC_BOOT_FSTYPE=ext4")
	if out, err := run(t, env, bc, "set-primary", "B"); err != nil {
		t.Fatalf("set-primary B: %v\n%s", err, out)
	}
	before, _ := filepath.Glob("/run/edgerec/boot.*")
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 12 {
				var args []string
				switch g % 3 {
				case 0:
					args = []string{"get-primary"}
				case 1:
					args = []string{"show"}
				default:
					args = []string{"set-state", "A", "good"} // a write that keeps the trial
				}
				out, err := run(t, env, bc, args...)
				switch {
				case err != nil:
					errs <- fmt.Sprintf("%v: %v %s", args, err, out)
				case g%3 == 0 && strings.TrimSpace(out) != "B":
					errs <- fmt.Sprintf("get-primary during the trial said %q", strings.TrimSpace(out))
				case g%3 == 1 && !strings.Contains(out, "TRY=B"):
					errs <- fmt.Sprintf("show lost the trial: %q", out)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n++; n <= 5 {
			t.Error(e)
		}
	}
	if n > 5 {
		t.Errorf("… %d failures in all", n)
	}
	after, _ := filepath.Glob("/run/edgerec/boot.*")
	if len(after) > len(before) {
		t.Errorf("mount points left behind: %v", after)
	}
	if m := read(t, "/proc/mounts"); strings.Contains(m, l.dev+"p1 ") {
		t.Errorf("the boot partition is still mounted:\n%s", m)
	}
	out, err := run(t, env, bc, "show")
	if err != nil || !strings.Contains(out, "PRIMARY=A") || !strings.Contains(out, "TRY=B") {
		t.Errorf("state after the calls: %v\n%s", err, out)
	}
}

// A slot on trial whose edgerec keeps failing: supervise reboots (the boot
// chooser counts the try) and keeps edgerec's last lines on the data
// partition and the console, so the technician sees after the rollback
// why the new version was refused (issue 16).
func TestSuperviseTrialFailureKept(t *testing.T) {
	dir := t.TempDir()
	bin := fakeEdgerec(t, dir, `echo 'level=ERROR msg="store: open ring: the reason"' >&2; exit 2`+"\n")
	chooser := filepath.Join(dir, "chooser")
	os.WriteFile(chooser, []byte("#!/bin/sh\n[ \"$1\" = is-trial ]\n"), 0o755)
	rebooted := filepath.Join(dir, "rebooted")
	reboot := filepath.Join(dir, "reboot")
	os.WriteFile(reboot, []byte("#!/bin/sh\necho yes >>"+rebooted+"\n"), 0o755)
	cfg := filepath.Join(dir, "edgerec.yaml")
	os.WriteFile(cfg, []byte("x"), 0o600)
	failure := filepath.Join(dir, "data", "update", "trial-failure.log")
	out, err := run(t, cleanEnv("EDGEREC_BIN="+bin, "EDGEREC_CONFIG="+cfg, "EDGEREC_SYSLOG=0",
		"EDGEREC_BACKOFF_MAX=1", "EDGEREC_CHOOSER="+chooser, "EDGEREC_REBOOT="+reboot,
		"EDGEREC_RUN_DIR="+filepath.Join(dir, "run"), "EDGEREC_TRIAL_FAILURE="+failure,
		"EDGEREC_TRIAL_CRASHES=2", "EDGEREC_TRIAL_SECS=30", "EDGEREC_WATCHDOG=/nonexistent"), libexec+"/supervise")
	if err != nil {
		t.Fatal(err, out)
	}
	if got := read(t, rebooted); got != "yes\n" {
		t.Errorf("rebooted %q, want once\n%s", got, out)
	}
	kept := read(t, failure)
	if !strings.Contains(kept, "edgerec failed 2 times on the trial slot (last status 2)") ||
		strings.Count(kept, "store: open ring: the reason") != 2 {
		t.Errorf("trial failure file:\n%s", kept)
	}
	// The output still reaches the log (stderr without syslog).
	if !strings.Contains(out, "store: open ring: the reason") || !strings.Contains(out, "on trial") {
		t.Errorf("supervise output:\n%s", out)
	}
}
