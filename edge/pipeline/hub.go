package pipeline

import (
	"sync"
	"sync/atomic"
)

// Hub fans one camera's access units out to any number of readers.
type Hub struct {
	mu      sync.Mutex
	readers map[*Reader]struct{}
	closed  bool
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{readers: make(map[*Reader]struct{})} }

// Reader receives access units from a hub.
type Reader struct {
	hub     *Hub
	ch      chan Video
	needKey bool // after a drop (and at start): skip until a keyframe
	dropped atomic.Uint64
	once    sync.Once
	// Byte bound (under hub.mu): sizes of the units sent and maybe not
	// yet read, oldest first (a ring of n entries from head); the units
	// read so far are the oldest ones, so sent-but-gone entries are
	// retired by comparing n with len(ch).
	sizes    []int
	head, n  int
	bytes    int
	maxBytes int
}

// DefaultReaderBytes bounds a reader's queue in bytes (issue 14: 256
// units of 2 MB would be 512 MB per camera); Subscribe uses it.
const DefaultReaderBytes = 32 << 20

// Subscribe adds a reader with a queue of at most depth access units and
// DefaultReaderBytes bytes. The reader starts at the next keyframe.
func (h *Hub) Subscribe(depth int) *Reader { return h.SubscribeBytes(depth, DefaultReaderBytes) }

// SubscribeBytes is Subscribe with another byte bound. A unit that would
// take the queue past maxBytes is dropped (counted in Dropped, the reader
// then skips to the next keyframe), except into an empty queue.
func (h *Hub) SubscribeBytes(depth, maxBytes int) *Reader {
	if depth < 1 {
		depth = 1
	}
	r := &Reader{hub: h, ch: make(chan Video, depth), needKey: true, sizes: make([]int, depth), maxBytes: maxBytes}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(r.ch)
		return r
	}
	h.readers[r] = struct{}{}
	return r
}

// C is the reader's channel; it is closed when the hub closes or the reader
// is closed. It carries only Video: what comes out of a hub was masked, or
// passed through for a camera without masks (R2).
func (r *Reader) C() <-chan Video { return r.ch }

// Dropped is the number of access units this reader lost because it was
// too slow.
func (r *Reader) Dropped() uint64 { return r.dropped.Load() }

// Close detaches the reader.
func (r *Reader) Close() {
	r.hub.mu.Lock()
	defer r.hub.mu.Unlock()
	if _, ok := r.hub.readers[r]; ok {
		delete(r.hub.readers, r)
		r.once.Do(func() { close(r.ch) })
	}
}

// Publish hands v to every reader without blocking. Only the pipeline can
// make a non-empty Video (R2, issue 15); an empty one is ignored.
func (h *Hub) Publish(v Video) {
	au := v.au
	if len(au.Data) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for r := range h.readers {
		if r.needKey && !au.Key {
			continue
		}
		for r.n > len(r.ch) { // retire the units read since
			r.bytes -= r.sizes[r.head]
			r.head = (r.head + 1) % len(r.sizes)
			r.n--
		}
		if r.n > 0 && r.bytes+len(au.Data) > r.maxBytes {
			r.dropped.Add(1)
			r.needKey = true
			continue
		}
		select {
		case r.ch <- v:
			r.needKey = false
			r.sizes[(r.head+r.n)%len(r.sizes)] = len(au.Data)
			r.n++
			r.bytes += len(au.Data)
		default:
			r.dropped.Add(1)
			r.needKey = true
		}
	}
}

// Close closes every reader's channel; later Subscribe calls get a closed
// reader.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for r := range h.readers {
		r.once.Do(func() { close(r.ch) })
		delete(h.readers, r)
	}
}
