package storage

import (
	"testing"
	"time"
)

// FuzzFrameDecode: the chunk plaintext parser never panics and never
// returns a frame that extends past its input.
func FuzzFrameDecode(f *testing.F) {
	p := appendFrame(nil, Frame{Time: time.Unix(1, 2), Key: true, Data: []byte{0, 0, 0, 1, 0x65}})
	p = appendFrame(p, Frame{Time: time.Unix(1, 3), Data: []byte{0, 0, 0, 1, 0x41, 9}})
	f.Add(p)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		total := 0
		_ = decodeFrames(in, func(fr Frame) error {
			total += len(fr.Data) + frameFixed
			if total > len(in) {
				t.Fatal("frames longer than the input")
			}
			return nil
		})
	})
}
