package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// Errors returned by this package; callers match them with errors.Is.
var (
	// ErrHeader means a chunk header did not parse (bad magic, version,
	// checksum or field). It says nothing about authenticity.
	ErrHeader = errors.New("seal: invalid chunk header")
	// ErrAuth means a chunk failed authentication: its bytes were changed,
	// moved, or belong to another segment or key.
	ErrAuth = errors.New("seal: chunk authentication failed")
	// ErrCipher means an unknown cipher identifier or name.
	ErrCipher = errors.New("seal: unknown cipher")
)

// Cipher identifies the AEAD recorded in the ring header.
type Cipher uint8

// Cipher identifiers. The numeric values are on disk; never renumber.
const (
	AES256GCM         Cipher = 1
	XChaCha20Poly1305 Cipher = 2
)

// KeySize is the size of every segment key.
const KeySize = 32

// Overhead is the AEAD tag size (both ciphers use 16 bytes).
const Overhead = 16

// String returns the provisioning name of c.
func (c Cipher) String() string {
	switch c {
	case AES256GCM:
		return "aes-256-gcm"
	case XChaCha20Poly1305:
		return "xchacha20-poly1305"
	}
	return fmt.Sprintf("cipher(%d)", uint8(c))
}

// Valid reports whether c is a known cipher.
func (c Cipher) Valid() bool { return c == AES256GCM || c == XChaCha20Poly1305 }

// HasAESHardware reports whether this CPU has AES instructions usable by Go's
// AES-GCM (x86 AES-NI+PCLMULQDQ, arm64 AES+PMULL).
func HasAESHardware() bool {
	return (cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ) || (cpu.ARM64.HasAES && cpu.ARM64.HasPMULL)
}

// ParseCipher maps a provisioning name to a Cipher. "" and "auto" choose
// AES-256-GCM when the CPU has AES instructions and XChaCha20-Poly1305
// otherwise.
func ParseCipher(name string) (Cipher, error) {
	switch name {
	case "", "auto":
		if HasAESHardware() {
			return AES256GCM, nil
		}
		return XChaCha20Poly1305, nil
	case "aes-256-gcm":
		return AES256GCM, nil
	case "xchacha20-poly1305":
		return XChaCha20Poly1305, nil
	}
	return 0, fmt.Errorf("%w: %q (want auto, aes-256-gcm or xchacha20-poly1305)", ErrCipher, name)
}

// NewAEAD returns the AEAD for c under key.
func NewAEAD(c Cipher, key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key is %d bytes, want %d", len(key), KeySize)
	}
	switch c {
	case AES256GCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		return cipher.NewGCM(b)
	case XChaCha20Poly1305:
		return chacha20poly1305.NewX(key)
	}
	return nil, fmt.Errorf("%w: %d", ErrCipher, uint8(c))
}

// Header layout (HeaderSize bytes, little-endian):
//
//	0  magic "eRcK"
//	4  version (1)
//	5  flags: bit 0 last chunk of the segment, bit 1 pad record
//	6  reserved, zero (2 bytes)
//	8  segment id (8)
//	16 chunk index (4)
//	20 ciphertext length including the tag (4); for a pad: bytes skipped after the header
//	24 log position (LSN) where the chunk was first written (8)
//	32 CRC-32C (Castagnoli) of bytes 0..32 (4)
//	36 reserved, zero (4)
const (
	HeaderSize = 40
	Version    = 1
	// MaxChunk bounds the ciphertext length a header may declare.
	MaxChunk = 16 << 20

	flagLast = 1 << 0
	flagPad  = 1 << 1
)

var magic = [4]byte{'e', 'R', 'c', 'K'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the clear part of a chunk. It is the AEAD's associated data.
type Header struct {
	Segment uint64
	Index   uint32
	Length  uint32 // ciphertext length including the tag (pad: bytes skipped)
	Last    bool
	Pad     bool
	LSN     uint64
}

// Marshal writes h into b[:HeaderSize].
func (h Header) Marshal(b []byte) {
	_ = b[HeaderSize-1]
	copy(b[0:4], magic[:])
	b[4] = Version
	var f byte
	if h.Last {
		f |= flagLast
	}
	if h.Pad {
		f |= flagPad
	}
	b[5] = f
	b[6], b[7] = 0, 0
	binary.LittleEndian.PutUint64(b[8:], h.Segment)
	binary.LittleEndian.PutUint32(b[16:], h.Index)
	binary.LittleEndian.PutUint32(b[20:], h.Length)
	binary.LittleEndian.PutUint64(b[24:], h.LSN)
	binary.LittleEndian.PutUint32(b[32:], crc32.Checksum(b[:32], castagnoli))
	clear(b[36:40])
}

// ParseHeader parses and validates the clear header at the start of b. A
// valid header is not an authentic one: only Opener.Open decides that.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, need %d", ErrHeader, len(b), HeaderSize)
	}
	if [4]byte(b[0:4]) != magic {
		return Header{}, fmt.Errorf("%w: bad magic", ErrHeader)
	}
	if b[4] != Version {
		return Header{}, fmt.Errorf("%w: version %d", ErrHeader, b[4])
	}
	if crc32.Checksum(b[:32], castagnoli) != binary.LittleEndian.Uint32(b[32:]) {
		return Header{}, fmt.Errorf("%w: checksum mismatch", ErrHeader)
	}
	f := b[5]
	if f&^(flagLast|flagPad) != 0 || b[6] != 0 || b[7] != 0 || binary.LittleEndian.Uint32(b[36:]) != 0 {
		return Header{}, fmt.Errorf("%w: reserved bits set", ErrHeader)
	}
	h := Header{
		Last:    f&flagLast != 0,
		Pad:     f&flagPad != 0,
		Segment: binary.LittleEndian.Uint64(b[8:]),
		Index:   binary.LittleEndian.Uint32(b[16:]),
		Length:  binary.LittleEndian.Uint32(b[20:]),
		LSN:     binary.LittleEndian.Uint64(b[24:]),
	}
	if h.Pad && h.Last {
		return Header{}, fmt.Errorf("%w: pad with last flag", ErrHeader)
	}
	if !h.Pad && (h.Length < Overhead || h.Length > MaxChunk) {
		return Header{}, fmt.Errorf("%w: length %d out of range", ErrHeader, h.Length)
	}
	return h, nil
}

// Segment seals and opens the chunks of one segment under its key.
type Segment struct {
	aead  cipher.AEAD
	id    uint64
	nonce []byte
}

// NewSegment returns a sealer/opener for segment id under key.
func NewSegment(c Cipher, key []byte, id uint64) (*Segment, error) {
	a, err := NewAEAD(c, key)
	if err != nil {
		return nil, err
	}
	return &Segment{aead: a, id: id, nonce: make([]byte, a.NonceSize())}, nil
}

func (s *Segment) nonceFor(index uint32) []byte {
	n := make([]byte, len(s.nonce))
	binary.LittleEndian.PutUint32(n, index)
	return n
}

// SealedSize is the on-disk size of a chunk holding n plaintext bytes.
func SealedSize(n int) int { return HeaderSize + n + Overhead }

// Seal appends the chunk (header then ciphertext) for plaintext to dst. h's
// Segment and Length are filled in; h.LSN must be set by the caller if known
// (it is part of the associated data).
func (s *Segment) Seal(dst []byte, h Header, plaintext []byte) []byte {
	h.Segment = s.id
	h.Pad = false
	h.Length = uint32(len(plaintext) + Overhead)
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	h.Marshal(dst[start:])
	return s.aead.Seal(dst, s.nonceFor(h.Index), plaintext, dst[start:start+HeaderSize])
}

// Open authenticates the chunk in raw (header followed by exactly
// h.Length ciphertext bytes) and appends its plaintext to dst. It checks that
// the header names this segment and the wanted index.
func (s *Segment) Open(dst []byte, wantIndex uint32, raw []byte) ([]byte, Header, error) {
	h, err := ParseHeader(raw)
	if err != nil {
		return dst, h, err
	}
	if h.Pad {
		return dst, h, fmt.Errorf("%w: pad record where chunk %d of segment %d was expected", ErrHeader, wantIndex, s.id)
	}
	if h.Segment != s.id || h.Index != wantIndex {
		return dst, h, fmt.Errorf("%w: header names segment %d chunk %d, want segment %d chunk %d", ErrAuth, h.Segment, h.Index, s.id, wantIndex)
	}
	if len(raw) != HeaderSize+int(h.Length) {
		return dst, h, fmt.Errorf("%w: chunk is %d bytes, header says %d", ErrAuth, len(raw)-HeaderSize, h.Length)
	}
	out, err := s.aead.Open(dst, s.nonceFor(wantIndex), raw[HeaderSize:], raw[:HeaderSize])
	if err != nil {
		return dst, h, fmt.Errorf("%w: segment %d chunk %d", ErrAuth, s.id, wantIndex)
	}
	return out, h, nil
}

// PadHeader returns the header of a pad record at lsn that skips skip bytes
// after itself.
func PadHeader(lsn uint64, skip uint32) Header {
	return Header{Pad: true, Length: skip, LSN: lsn}
}
