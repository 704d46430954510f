package uplinktest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Broker is a mosquitto process with mutual TLS on 127.0.0.1.
type Broker struct {
	t     testing.TB
	bin   string
	Dir   string
	Port  int
	Certs Certs
	conf  string
	cmd   *exec.Cmd
	done  chan struct{}
}

// FindMosquitto returns mosquitto's path or fails the test (never skips):
// the uplink's acceptance tests need it.
func FindMosquitto(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("mosquitto not found: run scripts/deps.sh (it installs the mosquitto broker the uplink tests start on loopback)")
	return ""
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartBroker generates certificates, writes mosquitto.conf (TLS listener on
// a free 127.0.0.1 port, require_certificate, persistence in the temp dir so
// a test subscriber's session survives a broker restart) and starts it. The
// broker is stopped at the end of the test.
func StartBroker(t testing.TB) *Broker {
	t.Helper()
	bin := FindMosquitto(t)
	dir := t.TempDir()
	b := &Broker{t: t, bin: bin, Dir: dir, Port: freePort(t), Certs: NewCerts(t, dir)}
	b.conf = filepath.Join(dir, "mosquitto.conf")
	conf := fmt.Sprintf(`# written by edge/uplink/uplinktest
per_listener_settings false
allow_anonymous true
persistence true
persistence_location %s/
autosave_interval 1
max_queued_messages 1000000
max_inflight_messages 0
log_dest file %s
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
`, dir, filepath.Join(dir, "mosquitto.log"), b.Port, b.Certs.CA, b.Certs.ServerCert, b.Certs.ServerKey)
	if os.Geteuid() == 0 {
		// Run as root (CI containers), mosquitto would switch to the
		// "mosquitto" user, who cannot read the test's 0700 temp dir.
		conf += "user root\n"
	}
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// URL is the broker's mqtts URL.
func (b *Broker) URL() string { return fmt.Sprintf("mqtts://127.0.0.1:%d", b.Port) }

// Start starts mosquitto (again) on the same port and waits until it accepts
// connections.
func (b *Broker) Start() {
	b.t.Helper()
	if b.cmd != nil {
		b.t.Fatal("broker already running")
	}
	cmd := exec.Command(b.bin, "-c", b.conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := cmd.Start(); err != nil {
			b.t.Fatalf("start mosquitto: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		for time.Now().Before(deadline) {
			select {
			case <-done:
			default:
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.Port), 200*time.Millisecond)
				if err == nil {
					c.Close()
					b.cmd, b.done = cmd, done
					return
				}
				time.Sleep(20 * time.Millisecond)
				continue
			}
			break
		}
		// Exited (port still in TIME_WAIT from the last run?) or never came up.
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			b.t.Fatalf("mosquitto did not start: %s\n%s", out.String(), b.Log())
		}
		cmd = exec.Command(b.bin, "-c", b.conf)
		out.Reset()
		cmd.Stdout, cmd.Stderr = &out, &out
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops mosquitto (SIGTERM; it saves its persistence file) and waits.
func (b *Broker) Stop() { b.stop(syscall.SIGTERM) }

// Kill kills mosquitto without a clean shutdown.
func (b *Broker) Kill() { b.stop(syscall.SIGKILL) }

func (b *Broker) stop(sig syscall.Signal) {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(sig)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd, b.done = nil, nil
}

// Log returns mosquitto's log so far.
func (b *Broker) Log() string {
	raw, _ := os.ReadFile(filepath.Join(b.Dir, "mosquitto.log"))
	s := string(raw)
	if len(s) > 8000 {
		s = "…" + s[len(s)-8000:]
	}
	return strings.TrimSpace(s)
}
