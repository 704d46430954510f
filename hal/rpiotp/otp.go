package rpiotp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// More errors; match with errors.Is.
var (
	// ErrNotConfirmed: Program was called without the confirmation token
	// (the board serial) or with the serial of another board.
	ErrNotConfirmed = errors.New("rpiotp: programming the OTP needs the board serial as confirmation")
	// ErrAlreadyProgrammed: the OTP already holds a different key. OTP
	// bits only go from 0 to 1; it is never reprogrammed.
	ErrAlreadyProgrammed = errors.New("rpiotp: OTP private key already programmed with another key")
	// ErrBadKey: a key to program is not 32 bytes or is all zeros (which
	// reads as "not programmed").
	ErrBadKey = errors.New("rpiotp: key must be 32 bytes and not all zeros")
	// ErrVerify: the key read back after programming differs from the key
	// written. The OTP may be partially programmed: do not retry with
	// another key.
	ErrVerify = errors.New("rpiotp: OTP read-back after programming differs")
)

// OTP reads (and, once per board life, programs) the device private key
// through a firmware Mailbox.
type OTP struct {
	mb Mailbox
}

// New returns an OTP over mb: VCIO{} on a Raspberry Pi, a *Fake in tests.
func New(mb Mailbox) *OTP { return &OTP{mb: mb} }

func (o *OTP) exchange(ctx context.Context, buf []uint32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := o.mb.Property(buf); err != nil {
		return fmt.Errorf("rpiotp: mailbox tag 0x%08x: %w", buf[2], err)
	}
	return nil
}

// Serial is the board serial as the firmware reports it (tag 0x00010004),
// as 16 lower-case hex digits ("10000000ad8e94a8"; normally the value
// /proc/cpuinfo shows as Serial, which the kernel gets from the same
// firmware). It is the confirmation token for Program and is
// bound into every wrapped root key.
func (o *OTP) Serial(ctx context.Context) (string, error) {
	buf := newRequest(TagGetBoardSerial, make([]uint32, serialValueBytes/4))
	if err := o.exchange(ctx, buf); err != nil {
		return "", err
	}
	v, err := parseResponse(buf, TagGetBoardSerial, serialValueBytes, serialValueBytes)
	if err != nil {
		return "", err
	}
	s := uint64(v[1])<<32 | uint64(v[0])
	if s == 0 {
		return "", fmt.Errorf("%w: board serial is zero", ErrTruncated)
	}
	return fmt.Sprintf("%016x", s), nil
}

func (o *OTP) readRows(ctx context.Context) ([KeyRows]uint32, error) {
	buf := keyRequest(TagGetPrivateKey, nil)
	defer clear(buf)
	if err := o.exchange(ctx, buf); err != nil {
		return [KeyRows]uint32{}, err
	}
	return parseKeyResponse(buf, TagGetPrivateKey)
}

// rowsToKey lays the rows out as rpi-otp-private-key prints them: each row
// as 8 hex digits (big-endian), row 0 first.
func rowsToKey(rows [KeyRows]uint32) []byte {
	k := make([]byte, 0, KeySize)
	for _, r := range rows {
		k = binary.BigEndian.AppendUint32(k, r)
	}
	return k
}

func keyToRows(k []byte) [KeyRows]uint32 {
	var rows [KeyRows]uint32
	for i := range rows {
		rows[i] = binary.BigEndian.Uint32(k[4*i:])
	}
	return rows
}

func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// ReadKey returns the 32-byte device private key. It never falls back to
// anything: no mailbox is ErrNoDevice, a refusal ErrRefused, a firmware
// that does not know the tag ErrUnsupported, a malformed answer
// ErrTruncated, and an all-zero key ErrNotProgrammed. Callers keep the key
// in memory only, clear it after use and never log it.
func (o *OTP) ReadKey(ctx context.Context) ([]byte, error) {
	rows, err := o.readRows(ctx)
	if err != nil {
		return nil, err
	}
	k := rowsToKey(rows)
	clear(rows[:])
	if allZero(k) {
		return nil, ErrNotProgrammed
	}
	return k, nil
}

// Programmed reports whether the OTP holds a key (without returning it).
func (o *OTP) Programmed(ctx context.Context) (bool, error) {
	k, err := o.ReadKey(ctx)
	if errors.Is(err, ErrNotProgrammed) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	clear(k)
	return true, nil
}

// confirmed checks the confirmation token against the board serial read
// from the firmware.
func (o *OTP) confirmed(ctx context.Context, confirm string) error {
	c := strings.ToLower(strings.TrimSpace(confirm))
	if c == "" {
		return fmt.Errorf("%w: no confirmation given", ErrNotConfirmed)
	}
	serial, err := o.Serial(ctx)
	if err != nil {
		return fmt.Errorf("rpiotp: reading the board serial to check the confirmation: %w", err)
	}
	if c != serial {
		return fmt.Errorf("%w: confirmation %q is not this board's serial", ErrNotConfirmed, confirm)
	}
	return nil
}

// Program writes key into the device private key OTP rows. This is
// IRREVERSIBLE for the life of the board. confirm must be the board serial
// (see Serial), typed or passed by the operator who decided to program
// this board. If the OTP already holds key, Program does nothing and
// succeeds; if it holds another key, it refuses (ErrAlreadyProgrammed)
// without writing. After writing it reads the key back (as
// rpi-otp-private-key does) and returns ErrVerify on a mismatch.
func (o *OTP) Program(ctx context.Context, key []byte, confirm string) error {
	if len(key) != KeySize || allZero(key) {
		return ErrBadKey
	}
	if err := o.confirmed(ctx, confirm); err != nil {
		return err
	}
	cur, err := o.ReadKey(ctx)
	switch {
	case err == nil:
		same := subtle.ConstantTimeCompare(cur, key) == 1
		clear(cur)
		if same {
			return nil
		}
		return ErrAlreadyProgrammed
	case errors.Is(err, ErrNotProgrammed):
	default:
		// Never write blind: without a clean read we do not know what
		// the OTP holds.
		return fmt.Errorf("rpiotp: reading the OTP before programming: %w", err)
	}
	rows := keyToRows(key)
	buf := keyRequest(TagSetPrivateKey, rows[:])
	clear(rows[:])
	defer clear(buf)
	if err := o.exchange(ctx, buf); err != nil {
		return fmt.Errorf("rpiotp: programming (read the OTP before any retry: it may be partially programmed): %w", err)
	}
	if _, err := parseKeyResponse(buf, TagSetPrivateKey); err != nil {
		return fmt.Errorf("rpiotp: programming (read the OTP before any retry: it may be partially programmed): %w", err)
	}
	back, err := o.ReadKey(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrVerify, err)
	}
	defer clear(back)
	if subtle.ConstantTimeCompare(back, key) != 1 {
		return ErrVerify
	}
	return nil
}

// Provision makes sure the board has a device private key: if the OTP
// already holds one (programmed by us earlier, or by the manufacturer's
// line with rpi-otp-private-key), it is used as it is and nothing is
// written; otherwise a fresh random key is programmed (see Program for the
// confirmation and the read-back). programmed tells which happened. The
// key is never returned: use ReadKey.
func (o *OTP) Provision(ctx context.Context, confirm string) (programmed bool, err error) {
	if err := o.confirmed(ctx, confirm); err != nil {
		return false, err
	}
	has, err := o.Programmed(ctx)
	if err != nil || has {
		return false, err
	}
	k := make([]byte, KeySize)
	defer clear(k)
	for allZero(k) {
		if _, err := rand.Read(k); err != nil {
			return false, fmt.Errorf("rpiotp: random: %w", err)
		}
	}
	if err := o.Program(ctx, k, confirm); err != nil {
		return false, err
	}
	return true, nil
}
