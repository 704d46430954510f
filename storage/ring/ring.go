package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"

	"github.com/edgerec/edgerec/storage/seal"
	"golang.org/x/sys/unix"
)

// Errors; match with errors.Is.
var (
	ErrCorrupt  = errors.New("ring: corrupt header")
	ErrExists   = errors.New("ring: a ring already exists there")
	ErrTooSmall = errors.New("ring: too small")
)

const (
	// BlockSize is the alignment of every region.
	BlockSize = 4096
	// MinDataSize is the smallest data region accepted: it must hold at
	// least one segment of a few seconds at a high bitrate.
	MinDataSize = 2 << 20
	// MinHoldSize is the smallest hold area.
	MinHoldSize = 256 << 10
	// MinSize is the smallest ring accepted by Plan.
	MinSize = BlockSize + MinHoldSize + MinDataSize
	magic   = "EDGEREC-RING-V1\x00"
	// Version 1 had no key provider (it is always the file provider);
	// version 2 records it at [120,124) and moves the checksum to [124,128).
	version   = 2
	encSizeV1 = 16 + 4 + 4 + 16 + 8*6 + 32 + 4
	encSize   = encSizeV1 + 4
)

// Provider names where the root key lives (issue 13, R32); it is recorded
// in the header at provisioning, and opening never substitutes another.
type Provider uint32

// Key providers.
const (
	ProviderFile   Provider = 1 // a 0600 file in the data directory (demo, development)
	ProviderTPM2   Provider = 2 // sealed in a TPM 2.0
	ProviderRPiOTP Provider = 3 // wrapped under the Raspberry Pi OTP device key
)

// String is the name used in configs, reports and beacons.
func (p Provider) String() string {
	switch p {
	case ProviderFile:
		return "file"
	case ProviderTPM2:
		return "tpm2"
	case ProviderRPiOTP:
		return "rpi-otp"
	}
	return fmt.Sprintf("unknown(%d)", uint32(p))
}

// Valid reports whether p is a known provider.
func (p Provider) Valid() bool { return p >= ProviderFile && p <= ProviderRPiOTP }

// ParseProvider parses a provider name ("" is the file provider).
func ParseProvider(s string) (Provider, error) {
	switch s {
	case "", "file":
		return ProviderFile, nil
	case "tpm2":
		return ProviderTPM2, nil
	case "rpi-otp":
		return ProviderRPiOTP, nil
	}
	return 0, fmt.Errorf("unknown key provider %q (want file, tpm2 or rpi-otp)", s)
}

// File is what the ring needs from its backing store; tests wrap it to
// inject I/O errors.
type File interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Close() error
}

// Header is the clear header at offset 0.
type Header struct {
	Cipher   seal.Cipher
	RingID   [16]byte
	Size     int64
	HoldOff  int64
	HoldSize int64
	DataOff  int64
	DataSize int64
	Created  int64 // unix seconds
	KCV      [32]byte
	// Provider is where the root key lives; 0 in a Header passed to Create
	// means ProviderFile.
	Provider Provider
}

// Plan lays out a ring of size bytes with a hold area of hold bytes (0 = one
// eighth of the ring, at least MinHoldSize).
func Plan(size, hold int64) (Header, error) {
	size -= size % BlockSize
	if size < MinSize {
		return Header{}, fmt.Errorf("%w: ring size %d bytes is below the minimum of %d bytes (%d MiB: header, %d KiB hold area, %d MiB data so that one segment fits)",
			ErrTooSmall, size, MinSize, (MinSize+(1<<20)-1)>>20, MinHoldSize>>10, MinDataSize>>20)
	}
	if hold == 0 {
		hold = max(size/8, MinHoldSize)
	}
	hold -= hold % BlockSize
	if hold < MinHoldSize {
		return Header{}, fmt.Errorf("%w: hold area %d bytes is below the minimum of %d bytes", ErrTooSmall, hold, MinHoldSize)
	}
	data := size - BlockSize - hold
	if data < MinDataSize {
		return Header{}, fmt.Errorf("%w: %d bytes left for data after a %d-byte hold area, minimum %d", ErrTooSmall, data, hold, MinDataSize)
	}
	return Header{Size: size, HoldOff: BlockSize, HoldSize: hold, DataOff: BlockSize + hold, DataSize: data, Provider: ProviderFile}, nil
}

// Marshal encodes h into a BlockSize block.
func (h Header) Marshal() []byte {
	b := make([]byte, BlockSize)
	copy(b, magic)
	le := binary.LittleEndian
	le.PutUint32(b[16:], version)
	le.PutUint32(b[20:], uint32(h.Cipher))
	copy(b[24:40], h.RingID[:])
	for i, v := range []int64{h.Size, h.HoldOff, h.HoldSize, h.DataOff, h.DataSize, h.Created} {
		le.PutUint64(b[40+8*i:], uint64(v))
	}
	copy(b[88:120], h.KCV[:])
	p := h.Provider
	if p == 0 {
		p = ProviderFile
	}
	le.PutUint32(b[120:], uint32(p))
	le.PutUint32(b[124:], crc32.Checksum(b[:124], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// IsRing reports whether b starts with the ring magic (used to refuse
// provisioning over an existing ring on a raw partition).
func IsRing(b []byte) bool { return bytes.HasPrefix(b, []byte(magic)) }

// ParseHeader decodes and validates a header block.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < encSize {
		return Header{}, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	if !IsRing(b) {
		return Header{}, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	le := binary.LittleEndian
	var h Header
	switch v := le.Uint32(b[16:]); v {
	case 1:
		if crc32.Checksum(b[:120], crc32.MakeTable(crc32.Castagnoli)) != le.Uint32(b[120:]) {
			return Header{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
		}
		h.Provider = ProviderFile
	case version:
		if crc32.Checksum(b[:124], crc32.MakeTable(crc32.Castagnoli)) != le.Uint32(b[124:]) {
			return Header{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
		}
		h.Provider = Provider(le.Uint32(b[120:]))
		if !h.Provider.Valid() {
			return Header{}, fmt.Errorf("%w: unknown key provider %d (this firmware knows file, tpm2 and rpi-otp)", ErrCorrupt, uint32(h.Provider))
		}
	default:
		return Header{}, fmt.Errorf("%w: version %d not supported", ErrCorrupt, v)
	}
	c := le.Uint32(b[20:])
	h.Cipher = seal.Cipher(c)
	if c > 255 || !h.Cipher.Valid() {
		return Header{}, fmt.Errorf("%w: unknown cipher %d", ErrCorrupt, c)
	}
	copy(h.RingID[:], b[24:40])
	v := make([]int64, 6)
	for i := range v {
		v[i] = int64(le.Uint64(b[40+8*i:]))
	}
	h.Size, h.HoldOff, h.HoldSize, h.DataOff, h.DataSize, h.Created = v[0], v[1], v[2], v[3], v[4], v[5]
	copy(h.KCV[:], b[88:120])
	if err := h.validate(); err != nil {
		return Header{}, err
	}
	return h, nil
}

func (h Header) validate() error {
	ok := h.Size >= MinSize && h.HoldOff == BlockSize && h.HoldSize >= MinHoldSize &&
		h.HoldSize%BlockSize == 0 && h.DataOff == h.HoldOff+h.HoldSize &&
		h.DataSize >= MinDataSize && h.DataOff+h.DataSize == h.Size && h.DataSize%BlockSize == 0
	if !ok {
		return fmt.Errorf("%w: inconsistent sizes (size %d, hold %d+%d, data %d+%d)", ErrCorrupt, h.Size, h.HoldOff, h.HoldSize, h.DataOff, h.DataSize)
	}
	return nil
}

// Ring is an open ring.
type Ring struct {
	f  File
	h  Header
	ro bool
}

// Create writes a new ring at path: a regular file is created exclusively
// and preallocated with fallocate; an existing block device is used if it is
// large enough and holds no ring. The header is written and synced. It
// returns whether fallocate was unavailable (the file is then sparse).
func Create(path string, h Header) (sparse bool, err error) {
	if err := h.validate(); err != nil {
		return false, err
	}
	if st, err := os.Stat(path); err == nil {
		if st.Mode()&fs.ModeDevice == 0 {
			return false, fmt.Errorf("%w: %s", ErrExists, path)
		}
		return false, createDevice(path, h)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("%w: %s", ErrExists, path)
		}
		return false, fmt.Errorf("ring: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("ring: %w", cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if ferr := unix.Fallocate(int(f.Fd()), 0, 0, h.Size); ferr != nil {
		if !errors.Is(ferr, unix.EOPNOTSUPP) && !errors.Is(ferr, unix.ENOSYS) {
			return false, fmt.Errorf("ring: fallocate %d bytes: %w", h.Size, ferr)
		}
		sparse = true
		if err := f.Truncate(h.Size); err != nil {
			return false, fmt.Errorf("ring: %w", err)
		}
	}
	if _, err := f.WriteAt(h.Marshal(), 0); err != nil {
		return sparse, fmt.Errorf("ring: write header: %w", err)
	}
	if err := f.Sync(); err != nil {
		return sparse, fmt.Errorf("ring: sync: %w", err)
	}
	return sparse, nil
}

func createDevice(path string, h Header) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	if end < h.Size {
		return fmt.Errorf("%w: device %s has %d bytes, ring needs %d", ErrTooSmall, path, end, h.Size)
	}
	b := make([]byte, BlockSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	if IsRing(b) {
		return fmt.Errorf("%w: device %s", ErrExists, path)
	}
	if _, err := f.WriteAt(h.Marshal(), 0); err != nil {
		return fmt.Errorf("ring: write header: %w", err)
	}
	return f.Sync()
}

// Open opens the ring at path and validates its header. wrap, if not nil,
// wraps the file (fault injection in tests).
func Open(path string, readOnly bool, wrap func(File) File) (*Ring, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	of, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("ring: %w", err)
	}
	var f File = dataSyncFile{of}
	if wrap != nil {
		f = wrap(f)
	}
	b := make([]byte, BlockSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("ring: read header: %w", err)
	}
	h, err := ParseHeader(b)
	if err != nil {
		f.Close()
		return nil, err
	}
	if st, err := of.Stat(); err == nil && st.Mode().IsRegular() && st.Size() < h.Size {
		f.Close()
		return nil, fmt.Errorf("%w: file is %d bytes, header says %d", ErrCorrupt, st.Size(), h.Size)
	}
	return &Ring{f: f, h: h, ro: readOnly}, nil
}

// dataSyncFile syncs with fdatasync: the ring's size never changes, so its
// metadata need not be flushed on every batch.
type dataSyncFile struct{ *os.File }

func (d dataSyncFile) Sync() error { return unix.Fdatasync(int(d.Fd())) }

// Header returns the ring header.
func (r *Ring) Header() Header { return r.h }

// SetHeader rewrites the header block in place and syncs it (rekey: a new
// key check value and provider). The layout must not change. A header is
// one 4 KiB block written with one pwrite; its checksum makes a torn write
// detectable (ErrCorrupt on the next open) rather than silently wrong.
func (r *Ring) SetHeader(h Header) error {
	if r.ro {
		return fmt.Errorf("ring: set header: read-only")
	}
	if h.Size != r.h.Size || h.HoldOff != r.h.HoldOff || h.HoldSize != r.h.HoldSize ||
		h.DataOff != r.h.DataOff || h.DataSize != r.h.DataSize || h.RingID != r.h.RingID || h.Cipher != r.h.Cipher {
		return fmt.Errorf("ring: set header: layout, ring id and cipher are fixed")
	}
	if _, err := r.f.WriteAt(h.Marshal(), 0); err != nil {
		return fmt.Errorf("ring: write header: %w", err)
	}
	if err := r.f.Sync(); err != nil {
		return fmt.Errorf("ring: sync header: %w", err)
	}
	if h.Provider == 0 {
		h.Provider = ProviderFile
	}
	r.h = h
	return nil
}

// ReadHeader reads and validates the header of the ring at path without
// keeping it open.
func ReadHeader(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, fmt.Errorf("ring: %w", err)
	}
	defer f.Close()
	b := make([]byte, BlockSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		return Header{}, fmt.Errorf("ring: read header: %w", err)
	}
	return ParseHeader(b)
}

// Close closes the backing file.
func (r *Ring) Close() error { return r.f.Close() }

// Sync makes every write so far durable.
func (r *Ring) Sync() error {
	if err := r.f.Sync(); err != nil {
		return fmt.Errorf("ring: sync: %w", err)
	}
	return nil
}

// Pos returns the file offset of lsn.
func (r *Ring) Pos(lsn uint64) int64 { return r.h.DataOff + int64(lsn%uint64(r.h.DataSize)) }

// Room returns how many bytes fit from lsn to the end of its lap.
func (r *Ring) Room(lsn uint64) uint64 { return uint64(r.h.DataSize) - lsn%uint64(r.h.DataSize) }

// Write writes b at lsn; b must not cross the end of the lap.
func (r *Ring) Write(lsn uint64, b []byte) error {
	if uint64(len(b)) > r.Room(lsn) {
		return fmt.Errorf("ring: write of %d bytes at lsn %d crosses the lap end", len(b), lsn)
	}
	if _, err := r.f.WriteAt(b, r.Pos(lsn)); err != nil {
		return fmt.Errorf("ring: write at lsn %d: %w", lsn, err)
	}
	return nil
}

// Read reads len(b) bytes at lsn; the range must not cross the end of the lap.
func (r *Ring) Read(lsn uint64, b []byte) error {
	if uint64(len(b)) > r.Room(lsn) {
		return fmt.Errorf("%w: read of %d bytes at lsn %d crosses the lap end", ErrCorrupt, len(b), lsn)
	}
	if _, err := r.f.ReadAt(b, r.Pos(lsn)); err != nil {
		return fmt.Errorf("ring: read at lsn %d: %w", lsn, err)
	}
	return nil
}

// ReadChunk reads the chunk at lsn: its parsed header and its raw bytes
// (header and ciphertext), appended to buf[:0]. A pad record returns its
// header and only the header bytes.
func (r *Ring) ReadChunk(lsn uint64, buf []byte) (seal.Header, []byte, error) {
	if r.Room(lsn) < seal.HeaderSize {
		return seal.Header{}, nil, fmt.Errorf("%w: no room for a chunk header at lsn %d", seal.ErrHeader, lsn)
	}
	buf = append(buf[:0], make([]byte, seal.HeaderSize)...)
	if err := r.Read(lsn, buf); err != nil {
		return seal.Header{}, nil, err
	}
	h, err := seal.ParseHeader(buf)
	if err != nil {
		return h, nil, err
	}
	if h.LSN != lsn {
		return h, nil, fmt.Errorf("%w: header at lsn %d says lsn %d", seal.ErrHeader, lsn, h.LSN)
	}
	if h.Pad {
		return h, buf, nil
	}
	if uint64(seal.HeaderSize)+uint64(h.Length) > r.Room(lsn) {
		return h, nil, fmt.Errorf("%w: chunk at lsn %d crosses the lap end", seal.ErrHeader, lsn)
	}
	buf = append(buf, make([]byte, h.Length)...)
	if err := r.Read(lsn+seal.HeaderSize, buf[seal.HeaderSize:]); err != nil {
		return h, nil, err
	}
	return h, buf, nil
}

// ReadHold reads len(b) bytes at off within the hold area.
func (r *Ring) ReadHold(off int64, b []byte) error {
	if off < 0 || off+int64(len(b)) > r.h.HoldSize {
		return fmt.Errorf("%w: hold read [%d,+%d) outside the hold area", ErrCorrupt, off, len(b))
	}
	if _, err := r.f.ReadAt(b, r.h.HoldOff+off); err != nil {
		return fmt.Errorf("ring: hold read: %w", err)
	}
	return nil
}

// WriteHold writes b at off within the hold area.
func (r *Ring) WriteHold(off int64, b []byte) error {
	if off < 0 || off+int64(len(b)) > r.h.HoldSize {
		return fmt.Errorf("ring: hold write [%d,+%d) outside the hold area", off, len(b))
	}
	if _, err := r.f.WriteAt(b, r.h.HoldOff+off); err != nil {
		return fmt.Errorf("ring: hold write: %w", err)
	}
	return nil
}
