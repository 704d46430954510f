package tpm

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Descriptor names a provisioned root key inside one TPM. It holds no
// secret: it is what the data directory keeps (DescriptorFile) so that the
// recorder finds its key again. Every field is checked against the TPM on
// each use; a descriptor alone opens nothing.
type Descriptor struct {
	// Handle is the persistent handle of the sealed object (owner range
	// 0x81000000–0x817FFFFF).
	Handle uint32
	// Name is the TPM name of the sealed object: nameAlg (SHA-256) and the
	// digest of its public area. A different object at Handle has another
	// name, even one re-provisioned at the same handle.
	Name []byte
	// SRKName is the name of the storage root key re-derived from this
	// TPM's owner seed with a fixed template. It identifies the TPM (and its
	// owner epoch: TPM2_Clear changes it), so a descriptor copied to another
	// TPM is recognized before anything else is tried.
	SRKName []byte
	// PCRs is the sorted SHA-256 PCR selection the key is bound to (empty:
	// not bound).
	PCRs []int
	// PCRDigest is SHA-256 over the selected PCR values at provisioning,
	// empty iff PCRs is.
	PCRDigest []byte
}

// DescriptorFile is the conventional file name of the descriptor in the
// data directory.
const DescriptorFile = "rootkey.tpm"

const (
	descMagic = "EDGEREC-TPMROOT1"
	nameSize  = 2 + sha256.Size // TPM_ALG_SHA256 then the digest
	sumSize   = 16
	maxPCR    = 23
	// DescriptorMaxSize bounds a descriptor file.
	DescriptorMaxSize = len(descMagic) + 4 + 2*(2+nameSize) + 4 + 2 + sha256.Size + sumSize
)

// MarshalBinary encodes d:
//
//	"EDGEREC-TPMROOT1" | handle u32 | u16 len | name | u16 len | SRK name |
//	PCR bitmap u32 (bit i = PCR i, SHA-256 bank) | u16 len | PCR digest |
//	first 16 bytes of SHA-256 of everything before
//
// all big-endian. The checksum detects a damaged file; it is not a MAC and
// needs not be (the TPM checks every field).
func (d Descriptor) MarshalBinary() ([]byte, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	b := []byte(descMagic)
	b = binary.BigEndian.AppendUint32(b, d.Handle)
	b = appendSized(b, d.Name)
	b = appendSized(b, d.SRKName)
	var mask uint32
	for _, p := range d.PCRs {
		mask |= 1 << p
	}
	b = binary.BigEndian.AppendUint32(b, mask)
	b = appendSized(b, d.PCRDigest)
	sum := sha256.Sum256(b)
	return append(b, sum[:sumSize]...), nil
}

func appendSized(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// ReadDescriptorFile reads and parses the descriptor file at path. A
// missing file is fs.ErrNotExist (not provisioned for a TPM); writing it is
// the caller's (storage writes it atomically, 0600, never replaced).
func ReadDescriptorFile(path string) (Descriptor, error) {
	f, err := os.Open(path)
	if err != nil {
		return Descriptor{}, fmt.Errorf("tpm: descriptor: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(DescriptorMaxSize)+1))
	if err != nil {
		return Descriptor{}, fmt.Errorf("tpm: descriptor: %w", err)
	}
	d, err := ParseDescriptor(b)
	if err != nil {
		return Descriptor{}, fmt.Errorf("tpm: %s: %w", filepath.Base(path), err)
	}
	return d, nil
}

// ParseDescriptor decodes a descriptor written by MarshalBinary. Anything
// else, including a single flipped bit, is ErrCorruptDescriptor.
func ParseDescriptor(b []byte) (Descriptor, error) {
	bad := func(why string) (Descriptor, error) {
		return Descriptor{}, fmt.Errorf("%w: %s", ErrCorruptDescriptor, why)
	}
	if len(b) > DescriptorMaxSize {
		return bad(fmt.Sprintf("%d bytes, at most %d", len(b), DescriptorMaxSize))
	}
	if len(b) < len(descMagic)+sumSize || !bytes.Equal(b[:len(descMagic)], []byte(descMagic)) {
		return bad("not an edgerec TPM root key descriptor (magic)")
	}
	body := b[:len(b)-sumSize]
	sum := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(sum[:sumSize], b[len(body):]) != 1 {
		return bad("checksum mismatch")
	}
	r := body[len(descMagic):]
	var d Descriptor
	var ok bool
	if d.Handle, r, ok = takeU32(r); !ok {
		return bad("truncated handle")
	}
	if d.Name, r, ok = takeSized(r); !ok {
		return bad("truncated object name")
	}
	if d.SRKName, r, ok = takeSized(r); !ok {
		return bad("truncated SRK name")
	}
	var mask uint32
	if mask, r, ok = takeU32(r); !ok {
		return bad("truncated PCR selection")
	}
	if mask>>(maxPCR+1) != 0 {
		return bad(fmt.Sprintf("PCR selection %#x names PCRs above %d", mask, maxPCR))
	}
	for i := 0; i <= maxPCR; i++ {
		if mask&(1<<i) != 0 {
			d.PCRs = append(d.PCRs, i)
		}
	}
	if d.PCRDigest, r, ok = takeSized(r); !ok {
		return bad("truncated PCR digest")
	}
	if len(r) != 0 {
		return bad(fmt.Sprintf("%d trailing bytes", len(r)))
	}
	if err := d.validate(); err != nil {
		return Descriptor{}, err
	}
	return d, nil
}

func takeU32(b []byte) (uint32, []byte, bool) {
	if len(b) < 4 {
		return 0, nil, false
	}
	return binary.BigEndian.Uint32(b), b[4:], true
}

func takeSized(b []byte) ([]byte, []byte, bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	if n == 0 {
		return nil, b[2:], true
	}
	return bytes.Clone(b[2 : 2+n]), b[2+n:], true
}

// validate checks what a well-formed descriptor must satisfy.
func (d Descriptor) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrCorruptDescriptor, fmt.Sprintf(format, a...))
	}
	if err := checkHandle(d.Handle); err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptDescriptor, err)
	}
	if !isSHA256Name(d.Name) {
		return bad("object name is not a SHA-256 TPM name")
	}
	if !isSHA256Name(d.SRKName) {
		return bad("SRK name is not a SHA-256 TPM name")
	}
	if !slices.IsSorted(d.PCRs) || len(slices.Compact(slices.Clone(d.PCRs))) != len(d.PCRs) {
		return bad("PCR selection not sorted and unique")
	}
	for _, p := range d.PCRs {
		if p < 0 || p > maxPCR {
			return bad("PCR %d out of range 0..%d", p, maxPCR)
		}
	}
	switch {
	case len(d.PCRs) == 0 && len(d.PCRDigest) != 0:
		return bad("PCR digest without a PCR selection")
	case len(d.PCRs) != 0 && len(d.PCRDigest) != sha256.Size:
		return bad("PCR digest is %d bytes, want %d", len(d.PCRDigest), sha256.Size)
	}
	return nil
}

func isSHA256Name(n []byte) bool {
	return len(n) == nameSize && binary.BigEndian.Uint16(n) == 0x000B
}

// Equal reports whether two descriptors name the same object the same way.
func (d Descriptor) Equal(o Descriptor) bool {
	return d.Handle == o.Handle && bytes.Equal(d.Name, o.Name) && bytes.Equal(d.SRKName, o.SRKName) &&
		slices.Equal(d.PCRs, o.PCRs) && bytes.Equal(d.PCRDigest, o.PCRDigest)
}
