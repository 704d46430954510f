package rpiotp

import (
	"fmt"
	"sync"
)

// Fake is a Mailbox test double for this package's and other packages'
// tests. It speaks the property protocol like the firmware does for the
// three tags this package uses (board serial, get and set private key),
// keeps the OTP rows in memory with OTP semantics (bits only go from 0 to
// 1; a write whose bits do not cover the current ones is refused, as the
// firmware checks), and can misbehave on demand.
//
// Set the misbehaviour fields before handing the Fake to the code under
// test; the OTP state is guarded for concurrent use.
type Fake struct {
	// Missing makes every call fail as if /dev/vcio did not exist.
	Missing bool
	// Refuse answers every request with response code 0x80000001.
	Refuse bool
	// RefuseWrite answers only TagSetPrivateKey with 0x80000001.
	RefuseWrite bool
	// Unsupported leaves the private key tags unanswered (response bit
	// clear), as a firmware without them would.
	Unsupported bool
	// Mangle, if set, is applied to every answer after the fake wrote it
	// (truncate it, echo another tag, shorten the value...).
	Mangle func(buf []uint32)

	mu     sync.Mutex
	serial uint64
	rows   [KeyRows]uint32
	reads  int
	writes int
}

// NewFake returns a fake board with the given serial and OTP key (nil or
// all zeros: not programmed). key, if given, must be KeySize bytes.
func NewFake(serial uint64, key []byte) *Fake {
	f := &Fake{serial: serial}
	if key != nil {
		if len(key) != KeySize {
			panic(fmt.Sprintf("rpiotp.NewFake: key is %d bytes", len(key)))
		}
		f.rows = keyToRows(key)
	}
	return f
}

// Key returns a copy of the OTP key as programmed now (all zeros if not).
func (f *Fake) Key() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return rowsToKey(f.rows)
}

// Writes is the number of TagSetPrivateKey requests the fake accepted.
func (f *Fake) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// Reads is the number of TagGetPrivateKey requests answered.
func (f *Fake) Reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// Property implements Mailbox.
func (f *Fake) Property(buf []uint32) error {
	if f.Missing {
		return fmt.Errorf("%w: fake: open /dev/vcio: no such file or directory", ErrNoDevice)
	}
	if err := checkMessage(buf); err != nil {
		return err
	}
	if buf[1] != codeRequest {
		return fmt.Errorf("fake mailbox: request code 0x%08x", buf[1])
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	buf[1] = codeSuccess
	if f.Refuse {
		buf[1] = codeError
	} else {
		// Walk the tags up to the end tag.
		for i := headerWords; i < len(buf) && buf[i] != endTag; {
			if i+tagHdrWords > len(buf) {
				buf[1] = codeError
				break
			}
			tag, vb := buf[i], buf[i+1]
			if vb%4 != 0 || uint64(i+tagHdrWords)+uint64(vb/4) > uint64(len(buf)) {
				buf[1] = codeError
				break
			}
			val := buf[i+tagHdrWords : i+tagHdrWords+int(vb/4)]
			n, ok := f.answer(tag, val)
			if !ok {
				buf[1] = codeError
				break
			}
			if n >= 0 {
				buf[i+2] = responseBit | uint32(n)
			}
			i += tagHdrWords + int(vb/4)
		}
	}
	if f.Mangle != nil {
		f.Mangle(buf)
	}
	return nil
}

// answer processes one tag in place; n is the response length in bytes
// (-1: tag not answered), ok false means the firmware reports an error.
func (f *Fake) answer(tag uint32, val []uint32) (n int, ok bool) {
	switch tag {
	case TagGetBoardSerial:
		if len(val) < 2 {
			return 8, true // too small: the length says how much was needed
		}
		val[0], val[1] = uint32(f.serial), uint32(f.serial>>32)
		return 8, true
	case TagGetPrivateKey, TagSetPrivateKey:
		if f.Unsupported {
			return -1, true
		}
		if len(val) < 2 {
			return 0, false
		}
		off, cnt := val[0], val[1]
		if off > KeyRows || cnt > KeyRows-off || uint64(len(val)) < 2+uint64(cnt) {
			return 0, false
		}
		if tag == TagGetPrivateKey {
			f.reads++
			copy(val[2:2+cnt], f.rows[off:off+cnt])
			return int(8 + 4*cnt), true
		}
		if f.RefuseWrite {
			return 0, false
		}
		for j := uint32(0); j < cnt; j++ {
			if val[2+j]|f.rows[off+j] != val[2+j] {
				return 0, false // would need a 1 bit to become 0
			}
		}
		copy(f.rows[off:off+cnt], val[2:2+cnt])
		f.writes++
		return int(8 + 4*cnt), true
	}
	return -1, true
}
