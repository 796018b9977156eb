package supervisor

import "sync"

// ring keeps the last limit bytes of one output stream, addressed by
// absolute offsets (0 = the first byte ever written).
type ring struct {
	mu     sync.Mutex
	limit  int
	buf    []byte // grows up to limit, then wraps
	start  int    // physical index of the oldest byte once full
	total  int64  // bytes ever written
	closed bool
	notify chan struct{} // closed and replaced on every write and on close
}

func newRing(limit int64) *ring {
	if limit <= 0 {
		limit = defaultOutputBuffer
	}
	const maxInt = int64(^uint(0) >> 1)
	if limit > maxInt {
		limit = maxInt
	}
	return &ring{limit: int(limit), notify: make(chan struct{})}
}

func (r *ring) write(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(p) > r.limit {
		// Only the last limit bytes can be kept.
		skip := len(p) - r.limit
		r.total += int64(skip)
		p = p[skip:]
	}
	for len(p) > 0 {
		if len(r.buf) < r.limit {
			n := min(len(p), r.limit-len(r.buf))
			r.buf = append(r.buf, p[:n]...)
			p = p[n:]
			r.total += int64(n)
			continue
		}
		n := copy(r.buf[r.start:], p)
		r.start = (r.start + n) % len(r.buf)
		p = p[n:]
		r.total += int64(n)
	}
	close(r.notify)
	r.notify = make(chan struct{})
}

func (r *ring) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.notify)
	}
}

// changed returns a channel closed at the next write or close; nil once the
// ring is closed (nothing more will come).
func (r *ring) changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	return r.notify
}

// ringRead is one read of a ring.
type ringRead struct {
	data    []byte
	start   int64 // absolute offset of data[0]
	next    int64 // offset after the last byte returned
	total   int64 // bytes ever written
	dropped int64 // bytes no longer retained
	closed  bool
}

// read returns up to max bytes (0 = all) from absolute offset off; an
// offset in the dropped region starts at the oldest retained byte, one
// past the end returns nothing. tail > 0 reads the last tail bytes instead.
func (r *ring) read(off int64, max int, tail int) ringRead {
	r.mu.Lock()
	defer r.mu.Unlock()
	oldest := r.total - int64(len(r.buf))
	if tail > 0 {
		off = r.total - int64(tail)
	}
	off = clamp(off, oldest, r.total)
	n := r.total - off
	if max > 0 && n > int64(max) {
		n = int64(max)
	}
	out := make([]byte, n)
	if n > 0 {
		i := (r.start + int(off-oldest)) % len(r.buf)
		c := copy(out, r.buf[i:])
		copy(out[c:], r.buf)
	}
	return ringRead{data: out, start: off, next: off + n, total: r.total, dropped: oldest, closed: r.closed}
}

func clamp(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// position returns the total bytes ever written and the offset of the
// oldest retained byte, without copying.
func (r *ring) position() (total, oldest int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, r.total - int64(len(r.buf))
}
