package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// DefaultDevice is the kernel's resource-managed TPM device. Through it the
// kernel flushes every transient object and session we leave behind when
// the file is closed, and several processes can share the TPM.
const DefaultDevice = "/dev/tpmrm0"

// Opener opens a connection to one TPM. Every operation of this package
// opens a connection, works and closes it; nothing is kept open between
// operations.
type Opener func(ctx context.Context) (transport.TPMCloser, error)

// Device opens the TPM character device at path (DefaultDevice on a
// gateway) with go-tpm's linuxtpm transport. A missing device, or a path
// that is not a character device, is ErrNoTPM. The kernel has already sent
// TPM2_Startup.
func Device(path string) Opener {
	return func(ctx context.Context) (transport.TPMCloser, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := linuxtpm.Open(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%w: %s does not exist (no TPM 2.0, or its driver is not loaded)", ErrNoTPM, path)
		case errors.Is(err, linuxtpm.ErrFileIsNotDevice):
			return nil, fmt.Errorf("%w: %s is not a character device", ErrNoTPM, path)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%w: %s: permission denied (the recorder needs the tss group or root)", ErrNoTPM, path)
		case err != nil:
			return nil, fmt.Errorf("%w: %s: %v", ErrNoTPM, path, err)
		}
		return t, nil
	}
}

// Socket opens a TPM that speaks raw TPM 2.0 command/response bytes over a
// stream socket: swtpm's "socket" server (--server type=unixio or tcp) does,
// with no framing around the TPM bytes (unlike the Microsoft/TCG reference
// simulator's TCP protocol, which wraps each command in
// TPM_SEND_COMMAND/locality/length; go-tpm's transport/tcp speaks that one
// and does not work with swtpm). network is "unix" or "tcp".
//
// With startup, TPM2_Startup(CLEAR) is sent after connecting, and a TPM that
// is already started (TPM_RC_INITIALIZE) is fine: swtpm run with
// --flags not-need-init is powered on but not started.
func Socket(network, addr string, startup bool) Opener {
	return func(ctx context.Context) (transport.TPMCloser, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrNoTPM, network, addr, err)
		}
		t := &streamTPM{c: c}
		if startup {
			// Bound the startup by ctx too (withContext takes over after).
			if dl, ok := ctx.Deadline(); ok {
				_ = c.SetDeadline(dl.Add(deadlineSlack))
			}
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			_, err := tpm2.Startup{StartupType: tpm2.TPMSUClear}.Execute(t)
			if err != nil && !errors.Is(err, tpm2.TPMRCInitialize) {
				c.Close()
				if ctx.Err() != nil {
					return nil, fmt.Errorf("tpm: startup: %w (%v)", ctx.Err(), err)
				}
				return nil, fmt.Errorf("tpm: startup: %w", err)
			}
		}
		return t, nil
	}
}

// deadlineSlack puts the socket deadline, a backstop, after the context's
// deadline, so that the context (which closes the connection) reports
// first and the caller sees context.DeadlineExceeded.
const deadlineSlack = 100 * time.Millisecond

// maxResponse bounds a TPM response (the largest real one is a few KiB).
const maxResponse = 1 << 16

// streamTPM is a go-tpm transport over a stream connection carrying raw TPM
// commands. Responses are framed by the size field of the TPM response
// header, so a response split across reads is reassembled.
type streamTPM struct {
	mu sync.Mutex
	c  net.Conn
}

func (s *streamTPM) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.c.Write(cmd); err != nil {
		return nil, fmt.Errorf("tpm: send: %w", err)
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(s.c, hdr); err != nil {
		return nil, fmt.Errorf("tpm: receive: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > maxResponse {
		return nil, fmt.Errorf("tpm: receive: response size %d out of range", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(s.c, rsp[10:]); err != nil {
		return nil, fmt.Errorf("tpm: receive: %w", err)
	}
	return rsp, nil
}

func (s *streamTPM) Close() error { return s.c.Close() }

// ctxTPM refuses commands once ctx is done and closes the connection when
// ctx is cancelled, which unblocks a socket read (a blocking read on a
// character device is not interruptible; the TPM itself bounds it).
type ctxTPM struct {
	ctx  context.Context
	t    transport.TPMCloser
	stop func() bool
	once sync.Once
	err  error
}

func withContext(ctx context.Context, t transport.TPMCloser) *ctxTPM {
	c := &ctxTPM{ctx: ctx, t: t}
	if dl, ok := ctx.Deadline(); ok {
		if s, ok := t.(*streamTPM); ok {
			_ = s.c.SetDeadline(dl.Add(deadlineSlack))
		}
	}
	c.stop = context.AfterFunc(ctx, func() { _ = c.close() })
	return c
}

func (c *ctxTPM) Send(cmd []byte) ([]byte, error) {
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	rsp, err := c.t.Send(cmd)
	if err != nil && c.ctx.Err() != nil {
		return nil, fmt.Errorf("%w (%v)", c.ctx.Err(), err)
	}
	return rsp, err
}

func (c *ctxTPM) close() error {
	c.once.Do(func() { c.err = c.t.Close() })
	return c.err
}

func (c *ctxTPM) Close() error {
	c.stop()
	return c.close()
}
