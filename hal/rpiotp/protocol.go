package rpiotp

import (
	"errors"
	"fmt"
)

// Mailbox is the ioctl boundary: one property-channel exchange with the
// VideoCore firmware. buf is a whole property message (see the package doc)
// whose first word is its own size in bytes, 4*len(buf); the answer is
// written into buf in place. An implementation returns an error only when
// the exchange itself failed; the firmware's verdict is in buf and is
// judged by this package, never by the Mailbox.
type Mailbox interface {
	Property(buf []uint32) error
}

// Errors; match with errors.Is.
var (
	// ErrNoDevice: there is no firmware mailbox (/dev/vcio is absent or is
	// not the vcio device): not a Raspberry Pi, the driver is not loaded,
	// or not Linux.
	ErrNoDevice = errors.New("rpiotp: no VideoCore mailbox")
	// ErrRefused: the firmware (or the kernel's vcio tag filter) refused
	// the request: response code 0x80000001, or the ioctl failed with
	// EINVAL/EPERM, which is how the Linux vcio driver reports it.
	ErrRefused = errors.New("rpiotp: firmware refused the request")
	// ErrUnsupported: the firmware answered but did not process the tag
	// (response bit clear): a firmware too old for the tag, or a SoC
	// without the device private key (anything before BCM2711).
	ErrUnsupported = errors.New("rpiotp: firmware does not support the request")
	// ErrTruncated: the firmware's answer is truncated or malformed (size
	// too small, wrong tag echoed, value shorter than asked, other rows
	// than asked, unknown response code).
	ErrTruncated = errors.New("rpiotp: truncated or malformed firmware answer")
	// ErrNotProgrammed: the device private key reads as all zeros: it was
	// never programmed.
	ErrNotProgrammed = errors.New("rpiotp: OTP private key not programmed")
)

// Property protocol constants (Raspberry Pi firmware wiki,
// "Mailbox property interface").
const (
	codeRequest   = 0x00000000
	codeSuccess   = 0x80000000
	codeError     = 0x80000001
	responseBit   = 0x80000000
	endTag        = 0x00000000
	headerWords   = 2 // size, code
	tagHdrWords   = 3 // tag id, value buffer size, request/response code
	trailingWords = 1 // end tag

	// TagGetBoardSerial answers the board serial, a u64 (two words, low
	// word first).
	TagGetBoardSerial = 0x00010004
	// TagGetPrivateKey reads rows of the device private key: value =
	// row offset, row count, then count rows.
	TagGetPrivateKey = 0x00030081
	// TagSetPrivateKey programs rows of the device private key (same
	// value layout). Irreversible.
	TagSetPrivateKey = 0x00038081

	// KeyRows is the number of 32-bit OTP rows of the private key.
	KeyRows = 8
	// KeySize is the size of the device private key in bytes.
	KeySize = 4 * KeyRows

	keyValueBytes    = 4 * (2 + KeyRows) // offset, count, rows
	serialValueBytes = 8
)

// newRequest builds a one-tag property message asking tag with value (the
// value buffer is len(value) words). As in the documented vcmailbox
// invocations, the tag's request word carries the request length in
// b30..b0 with b31 clear.
func newRequest(tag uint32, value []uint32) []uint32 {
	n := headerWords + tagHdrWords + len(value) + trailingWords
	buf := make([]uint32, n)
	buf[0] = uint32(4 * n)
	buf[1] = codeRequest
	buf[2] = tag
	buf[3] = uint32(4 * len(value))
	buf[4] = uint32(4 * len(value))
	copy(buf[5:], value)
	buf[n-1] = endTag
	return buf
}

// parseResponse judges the firmware's answer to a one-tag request for tag
// whose value buffer was valueBytes long, and returns the value buffer.
// The answer must hold at least want bytes of value.
func parseResponse(buf []uint32, tag uint32, valueBytes, want int) ([]uint32, error) {
	if valueBytes%4 != 0 || want > valueBytes {
		return nil, fmt.Errorf("rpiotp: internal: value buffer %d bytes, want %d", valueBytes, want)
	}
	if len(buf) < headerWords {
		return nil, fmt.Errorf("%w: %d words, no header", ErrTruncated, len(buf))
	}
	size := buf[0]
	if size%4 != 0 || size < 4*headerWords || uint64(size) > 4*uint64(len(buf)) {
		return nil, fmt.Errorf("%w: answer size %d bytes (buffer %d bytes)", ErrTruncated, size, 4*len(buf))
	}
	w := buf[:size/4]
	switch w[1] {
	case codeSuccess:
	case codeError:
		return nil, fmt.Errorf("%w: tag 0x%08x: response code 0x%08x", ErrRefused, tag, w[1])
	default:
		return nil, fmt.Errorf("%w: response code 0x%08x", ErrTruncated, w[1])
	}
	valWords := valueBytes / 4
	if len(w) < headerWords+tagHdrWords+valWords+trailingWords {
		return nil, fmt.Errorf("%w: answer size %d bytes, a tag of %d value bytes needs %d",
			ErrTruncated, size, valueBytes, 4*(headerWords+tagHdrWords+valWords+trailingWords))
	}
	if w[2] != tag {
		return nil, fmt.Errorf("%w: answer for tag 0x%08x, asked 0x%08x", ErrTruncated, w[2], tag)
	}
	if w[3] != uint32(valueBytes) {
		return nil, fmt.Errorf("%w: value buffer size %d, sent %d", ErrTruncated, w[3], valueBytes)
	}
	if w[4]&responseBit == 0 {
		return nil, fmt.Errorf("%w: tag 0x%08x not answered", ErrUnsupported, tag)
	}
	n := int(w[4] &^ responseBit)
	if n > valueBytes {
		return nil, fmt.Errorf("%w: tag 0x%08x answer needs %d bytes, buffer holds %d", ErrTruncated, tag, n, valueBytes)
	}
	if n < want {
		return nil, fmt.Errorf("%w: tag 0x%08x answered %d bytes, want %d", ErrTruncated, tag, n, want)
	}
	if w[headerWords+tagHdrWords+valWords] != endTag {
		return nil, fmt.Errorf("%w: no end tag", ErrTruncated)
	}
	return w[headerWords+tagHdrWords : headerWords+tagHdrWords+valWords], nil
}

// keyRequest is the message reading (tag TagGetPrivateKey) or programming
// (TagSetPrivateKey) all rows; rows is nil for a read.
func keyRequest(tag uint32, rows []uint32) []uint32 {
	v := make([]uint32, 2+KeyRows)
	v[0], v[1] = 0, KeyRows
	copy(v[2:], rows)
	return newRequest(tag, v)
}

// parseKeyResponse returns the rows of a TagGetPrivateKey or
// TagSetPrivateKey answer.
func parseKeyResponse(buf []uint32, tag uint32) ([KeyRows]uint32, error) {
	var rows [KeyRows]uint32
	v, err := parseResponse(buf, tag, keyValueBytes, keyValueBytes)
	if err != nil {
		return rows, err
	}
	if v[0] != 0 || v[1] != KeyRows {
		return rows, fmt.Errorf("%w: rows %d..+%d answered, asked 0..+%d", ErrTruncated, v[0], v[1], KeyRows)
	}
	copy(rows[:], v[2:])
	return rows, nil
}
