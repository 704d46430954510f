package swtpmtest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SWTPM is one software TPM: a state directory (its NV memory, i.e. "the
// chip") and, while running, a swtpm process serving it on a unix socket.
type SWTPM struct {
	t     testing.TB
	state string
	sock  string
	cmd   *exec.Cmd
	done  chan error
}

// New starts a fresh TPM (new seeds: another chip) in its own
// directory. Tests skip when swtpm is not installed, unless
// EDGEREC_REQUIRE_SWTPM=1 (set by `make test`), where that is a failure.
func New(t testing.TB) *SWTPM {
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
	s := &SWTPM{t: t, state: state, sock: filepath.Join(dir, "tpm.sock")}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func (s *SWTPM) Start() {
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
			s.Stop()
			s.t.Fatalf("swtpm did not create %s within 10s: %s", s.sock, stderr.String())
		}
	}
}

// Stop ends swtpm (SIGTERM: it saves its state), bounded in time.
func (s *SWTPM) Stop() {
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

// Restart is a power cycle: same chip (state), PCRs reset.
func (s *SWTPM) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Sock is the unix socket swtpm serves raw TPM commands on.
func (s *SWTPM) Sock() string { return s.sock }

// Spec is the socket as a storage.tpm config value ("unix:PATH").
func (s *SWTPM) Spec() string { return "unix:" + s.sock }

// State is swtpm's state directory (the chip's NV memory).
func (s *SWTPM) State() string { return s.state }

// SetState puts another chip (state directory; a fresh one is a TPM with
// new seeds) behind the same socket. Call it while stopped; Start serves it.
func (s *SWTPM) SetState(dir string) { s.state = dir }
