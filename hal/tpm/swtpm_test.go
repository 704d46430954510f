package tpm

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// swtpm is one software TPM: a state directory (its NV memory, i.e. "the
// chip") and, while running, a swtpm process serving it on a unix socket.
type swtpm struct {
	t     testing.TB
	state string
	sock  string
	cmd   *exec.Cmd
	done  chan error
}

// newSWTPM starts a fresh TPM (new seeds: another chip) in its own
// directory. Tests skip when swtpm is not installed, unless
// EDGEREC_REQUIRE_SWTPM=1 (set by `make test`), where that is a failure.
func newSWTPM(t testing.TB) *swtpm {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		if os.Getenv("EDGEREC_REQUIRE_SWTPM") == "1" {
			t.Fatalf("swtpm is not installed but EDGEREC_REQUIRE_SWTPM=1: run scripts/deps.sh (Debian packages swtpm, swtpm-tools)")
		}
		t.Skip("swtpm not installed (scripts/deps.sh installs it)")
	}
	// Unix socket paths are limited to 108 bytes; t.TempDir can be long.
	dir, err := os.MkdirTemp("", "swtpm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &swtpm{t: t, state: state, sock: filepath.Join(dir, "tpm.sock")}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *swtpm) start() {
	s.t.Helper()
	os.Remove(s.sock)
	// not-need-init: powered on, TPM2_Startup not sent; Socket(…, true)
	// sends it, as a boot loader or the kernel does on real hardware.
	s.cmd = exec.Command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+s.state,
		"--server", "type=unixio,path="+s.sock,
		"--flags", "not-need-init",
		"--log", "level=0")
	var stderr strings.Builder
	s.cmd.Stderr = &stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start swtpm: %v", err)
	}
	s.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(s.cmd, s.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The socket file appears at bind, before listen: wait until a
		// connection is accepted.
		if c, err := net.Dial("unix", s.sock); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-s.done:
			s.cmd = nil
			s.t.Fatalf("swtpm exited at start: %v: %s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			s.t.Fatalf("swtpm did not create %s within 10s: %s", s.sock, stderr.String())
		}
	}
}

// stop ends swtpm (SIGTERM: it saves its state), bounded in time.
func (s *swtpm) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// restart is a power cycle: same chip (state), PCRs reset.
func (s *swtpm) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

func (s *swtpm) opener() Opener { return Socket("unix", s.sock, true) }

func (s *swtpm) tpm() *TPM { return New(s.opener(), nil) }

// testCtx bounds every test's TPM work.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want %v", what, err, want)
	}
	t.Logf("%s: %v", what, err)
}
