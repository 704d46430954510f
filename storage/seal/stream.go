package seal

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// A sealed stream is a byte stream (an export's MP4) written as the
// consecutive chunks 0, 1, 2, … of one segment under one key, in the same
// chunk format as the ring: each chunk authenticates its index (nonce) and
// its header (associated data), and the final chunk carries the last flag,
// so changing, reordering, splicing, truncating or extending the stream is
// detected while it is read. It is meant for a key used for one stream only
// (a fresh random key per export): the nonces are the chunk indexes.

// StreamWriter seals what is written to it and writes the chunks to an
// underlying writer. Close writes the last chunk; without it the stream is
// truncated and will not open.
type StreamWriter struct {
	seg    *Segment
	w      io.Writer
	chunk  int
	buf    []byte
	out    []byte
	index  uint32
	n      int64
	err    error
	closed bool
}

// NewStreamWriter returns a writer that seals into w, chunkSize plaintext
// bytes per chunk, as segment id under key (c, key as NewSegment).
func NewStreamWriter(w io.Writer, c Cipher, key []byte, id uint64, chunkSize int) (*StreamWriter, error) {
	if chunkSize <= 0 || chunkSize+Overhead > MaxChunk {
		return nil, fmt.Errorf("seal: stream chunk size %d out of range (1..%d)", chunkSize, MaxChunk-Overhead)
	}
	seg, err := NewSegment(c, key, id)
	if err != nil {
		return nil, err
	}
	return &StreamWriter{seg: seg, w: w, chunk: chunkSize, buf: make([]byte, 0, chunkSize)}, nil
}

// Write buffers p and writes every full chunk that is known not to be the
// last one.
func (s *StreamWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, errors.New("seal: write to a closed stream")
	}
	n := 0
	for len(p) > 0 {
		if len(s.buf) == s.chunk {
			if err := s.emit(false); err != nil {
				return n, err
			}
		}
		k := min(len(p), s.chunk-len(s.buf))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		n += k
	}
	return n, nil
}

func (s *StreamWriter) emit(last bool) error {
	if s.index == math.MaxUint32 {
		s.err = errors.New("seal: stream too long")
		return s.err
	}
	s.out = s.seg.Seal(s.out[:0], Header{Index: s.index, Last: last}, s.buf)
	if _, err := s.w.Write(s.out); err != nil {
		s.err = fmt.Errorf("seal: stream write: %w", err)
		return s.err
	}
	s.n += int64(len(s.out))
	s.index++
	clear(s.buf)
	s.buf = s.buf[:0]
	return nil
}

// Close writes the buffered bytes as the last chunk (an empty stream is
// one empty last chunk). It does not close the underlying writer.
func (s *StreamWriter) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	if s.err != nil {
		return s.err
	}
	err := s.emit(true)
	clear(s.out)
	return err
}

// Written is the number of sealed bytes written to the underlying writer.
func (s *StreamWriter) Written() int64 { return s.n }

// StreamReader opens a sealed stream. Every error about the stream's
// content (a changed byte, a chunk out of place, a truncated or extended
// stream) matches ErrAuth; no plaintext of a chunk is returned before that
// chunk has authenticated.
type StreamReader struct {
	seg   *Segment
	r     io.Reader
	raw   []byte
	plain []byte
	off   int
	index uint32
	last  bool
	err   error
}

// NewStreamReader returns a reader of the stream in r sealed as segment id
// under key.
func NewStreamReader(r io.Reader, c Cipher, key []byte, id uint64) (*StreamReader, error) {
	seg, err := NewSegment(c, key, id)
	if err != nil {
		return nil, err
	}
	return &StreamReader{seg: seg, r: r}, nil
}

// Read returns authenticated plaintext; io.EOF only after the last chunk
// authenticated and nothing follows it.
func (s *StreamReader) Read(p []byte) (int, error) {
	for s.off == len(s.plain) {
		if s.err != nil {
			return 0, s.err
		}
		if s.last {
			var one [1]byte
			if n, _ := io.ReadFull(s.r, one[:]); n > 0 {
				s.err = fmt.Errorf("%w: data after the last chunk (%d chunks)", ErrAuth, s.index)
			} else {
				s.err = io.EOF
			}
			continue
		}
		s.err = s.next()
	}
	n := copy(p, s.plain[s.off:])
	s.off += n
	return n, nil
}

func (s *StreamReader) next() error {
	s.raw = append(s.raw[:0], make([]byte, HeaderSize)...)
	if _, err := io.ReadFull(s.r, s.raw); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: stream ends before its last chunk (truncated after %d chunks)", ErrAuth, s.index)
		}
		return fmt.Errorf("seal: stream read: %w", err)
	}
	h, err := ParseHeader(s.raw)
	if err != nil {
		return fmt.Errorf("%w: chunk %d: %w", ErrAuth, s.index, err)
	}
	if h.Pad {
		return fmt.Errorf("%w: chunk %d: pad record in a stream", ErrAuth, s.index)
	}
	s.raw = append(s.raw, make([]byte, h.Length)...)
	if _, err := io.ReadFull(s.r, s.raw[HeaderSize:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: chunk %d is truncated", ErrAuth, s.index)
		}
		return fmt.Errorf("seal: stream read: %w", err)
	}
	clear(s.plain)
	s.plain, h, err = s.seg.Open(s.plain[:0], s.index, s.raw)
	s.off = 0
	if err != nil {
		s.plain = s.plain[:0]
		if !errors.Is(err, ErrAuth) {
			err = fmt.Errorf("%w: %w", ErrAuth, err)
		}
		return err
	}
	s.index++
	s.last = h.Last
	return nil
}

// Close forgets the buffered plaintext. It does not close the underlying
// reader.
func (s *StreamReader) Close() error {
	clear(s.plain)
	s.plain, s.off = nil, 0
	if s.err == nil {
		s.err = errors.New("seal: read from a closed stream")
	}
	return nil
}
