package storage

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Frame plaintext format inside a chunk, repeated:
//
//	time  int64 LE, Unix nanoseconds
//	flags 1 byte (bit 0 keyframe)
//	len   uvarint
//	data  len bytes
const frameFixed = 9

func appendFrame(b []byte, f Frame) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(f.Time.UnixNano()))
	var fl byte
	if f.Key {
		fl = 1
	}
	b = append(b, fl)
	b = binary.AppendUvarint(b, uint64(len(f.Data)))
	return append(b, f.Data...)
}

func frameSize(n int) int { return frameFixed + uvarintLen(uint64(n)) + n }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// decodeFrames parses the plaintext of a chunk. Data slices alias p.
func decodeFrames(p []byte, fn func(Frame) error) error {
	for len(p) > 0 {
		if len(p) < frameFixed+1 {
			return fmt.Errorf("%w: truncated frame header", ErrCorrupt)
		}
		t := int64(binary.LittleEndian.Uint64(p))
		fl := p[8]
		if fl&^1 != 0 {
			return fmt.Errorf("%w: frame flags %#x", ErrCorrupt, fl)
		}
		n, k := binary.Uvarint(p[frameFixed:])
		if k <= 0 || n > uint64(len(p)-frameFixed-k) {
			return fmt.Errorf("%w: frame length", ErrCorrupt)
		}
		p = p[frameFixed+k:]
		if err := fn(Frame{Time: time.Unix(0, t).UTC(), Key: fl&1 != 0, Data: p[:n:n]}); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}
