package wire

import (
	"bytes"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// Message is one of *Status, *Beacon, *Event, *Audit.
type Message interface {
	msgp.Marshaler
	msgp.Unmarshaler
	Validate() error
}

// KindOf returns the kind of a message value.
func KindOf(m Message) Kind {
	switch m.(type) {
	case *Status:
		return KindStatus
	case *Beacon:
		return KindBeacon
	case *Event:
		return KindEvent
	case *Audit:
		return KindAudit
	}
	return 0
}

// Marshal validates m and encodes it; the result has passed CheckMetadata
// and the kind's size bound.
func Marshal(m Message) ([]byte, error) {
	k := KindOf(m)
	if !k.Valid() {
		return nil, ErrKind
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := m.MarshalMsg(nil)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", k, err)
	}
	if err := Check(k, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Decode decodes and validates a payload of kind k.
func Decode(k Kind, b []byte) (Message, error) {
	var m Message
	switch k {
	case KindStatus:
		m = new(Status)
	case KindBeacon:
		m = new(Beacon)
	case KindEvent:
		m = new(Event)
	case KindAudit:
		m = new(Audit)
	default:
		return nil, ErrKind
	}
	if len(b) > k.MaxBytes() {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrTooLarge, k, len(b))
	}
	rest, err := m.UnmarshalMsg(b)
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s: %w", ErrInvalid, k, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrInvalid, len(rest))
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// Check is the metadata-only gate (D6) every payload passes before it enters
// the outbox: the size bound of its kind, and a walk of the MessagePack value
// in which every string is printable ASCII (0x20–0x7e) and no binary or
// extension value occurs at all. H.264 start codes (00 00 01), JPEG (FF D8)
// and PNG (89 'PNG' 0D 0A 1A 0A) markers therefore cannot be inside any
// string or byte field; integers are fixed-width numbers chosen by the
// encoder. As a second line, the raw payload must not contain a JPEG SOI
// marker followed by a marker byte or the PNG signature.
func Check(k Kind, b []byte) error {
	if !k.Valid() {
		return ErrKind
	}
	if len(b) > k.MaxBytes() {
		return fmt.Errorf("%w: %s of %d bytes (max %d)", ErrTooLarge, k, len(b), k.MaxBytes())
	}
	rest, err := walk(b, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrNotMeta, len(rest))
	}
	if bytes.Contains(b, jpegSOI) || bytes.Contains(b, pngSig) {
		return fmt.Errorf("%w: image signature in payload", ErrNotMeta)
	}
	return nil
}

var (
	jpegSOI = []byte{0xFF, 0xD8, 0xFF}
	pngSig  = []byte{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A}
)

// maxDepth bounds nesting (our schema nests at most three levels).
const maxDepth = 8

func walk(b []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested too deep", ErrNotMeta)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: truncated", ErrNotMeta)
	}
	switch msgp.NextType(b) {
	case msgp.StrType:
		s, rest, err := msgp.ReadStringZC(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotMeta, err)
		}
		for _, c := range s {
			if c < 0x20 || c > 0x7e {
				return nil, fmt.Errorf("%w: non-printable byte 0x%02x in a string", ErrNotMeta, c)
			}
		}
		return rest, nil
	case msgp.MapType:
		n, rest, err := msgp.ReadMapHeaderBytes(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotMeta, err)
		}
		for i := uint32(0); i < 2*n; i++ {
			if rest, err = walk(rest, depth+1); err != nil {
				return nil, err
			}
		}
		return rest, nil
	case msgp.ArrayType:
		n, rest, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotMeta, err)
		}
		for i := uint32(0); i < n; i++ {
			if rest, err = walk(rest, depth+1); err != nil {
				return nil, err
			}
		}
		return rest, nil
	case msgp.IntType, msgp.UintType, msgp.BoolType, msgp.NilType, msgp.Float32Type, msgp.Float64Type:
		rest, err := msgp.Skip(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotMeta, err)
		}
		return rest, nil
	default:
		return nil, fmt.Errorf("%w: %s value not allowed", ErrNotMeta, msgp.NextType(b))
	}
}
