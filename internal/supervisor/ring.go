package supervisor

import "sync"

// ring keeps the last limit bytes of one output stream, addressed by
// absolute offsets (0 = the first byte ever written). Its buffer's
// capacity never exceeds limit, and every byte of capacity is granted by
// its pool (the server-wide retention cap): when the pool grants less, the
// ring wraps at the size it has.
type ring struct {
	mu     sync.Mutex
	limit  int
	pool   *outputPool // nil: no server-wide cap
	buf    []byte      // len = bytes retained; wraps once len = cap
	start  int         // physical index of the oldest byte once wrapped
	total  int64       // bytes ever written
	closed bool
	// notify is closed by the next write or close; made only when someone
	// waits (changed), so a write nobody waits for allocates nothing.
	notify chan struct{}
}

// minRingGrowth is the smallest capacity step (fewer reallocations for
// chatty processes; still never past limit).
const minRingGrowth = 4 << 10

func newRing(limit int64, pool *outputPool) *ring {
	if limit <= 0 {
		limit = defaultOutputBuffer
	}
	const maxInt = int64(^uint(0) >> 1)
	if limit > maxInt {
		limit = maxInt
	}
	return &ring{limit: int(limit), pool: pool}
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
		if r.start == 0 && len(r.buf) < cap(r.buf) {
			n := min(len(p), cap(r.buf)-len(r.buf))
			r.buf = append(r.buf, p[:n]...)
			p = p[n:]
			r.total += int64(n)
			continue
		}
		if cap(r.buf) < r.limit && r.grow(len(p)) {
			continue
		}
		if len(r.buf) == 0 { // nothing may be retained
			r.total += int64(len(p))
			break
		}
		n := copy(r.buf[r.start:], p)
		r.start = (r.start + n) % len(r.buf)
		p = p[n:]
		r.total += int64(n)
	}
	r.wakeWaiters()
}

// wakeWaiters closes notify, if anyone asked for it. r.mu is held.
func (r *ring) wakeWaiters() {
	if r.notify != nil {
		close(r.notify)
		r.notify = nil
	}
}

// grow enlarges a full buffer for need more bytes (doubling, at least
// minRingGrowth, at most limit) by what the pool grants; false if it
// grants nothing. The retained bytes are kept in order (start becomes 0).
func (r *ring) grow(need int) bool {
	want := min(r.limit, max(2*cap(r.buf), len(r.buf)+need, minRingGrowth)) - cap(r.buf)
	if r.pool != nil {
		want = r.pool.reserve(want)
	}
	if want <= 0 {
		return false
	}
	nb := make([]byte, len(r.buf), cap(r.buf)+want)
	c := copy(nb, r.buf[r.start:])
	copy(nb[c:], r.buf[:r.start])
	r.buf, r.start = nb, 0
	return true
}

// drop releases everything the ring retains (its counts stay: reads then
// return nothing, with every byte counted as dropped) and returns the
// capacity freed. Only for a ring that is no longer written.
func (r *ring) drop() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	freed := cap(r.buf)
	r.buf, r.start = nil, 0
	return freed
}

// trim gives back the capacity a ring that is no longer written does not
// use (a process that printed a line kept 4 KiB for as long as it was
// retained): its bytes are moved into a buffer of their size. It returns
// the capacity freed. Only for a ring that is no longer written; a
// wrapped ring uses all of its capacity.
func (r *ring) trim() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	spare := cap(r.buf) - len(r.buf)
	if r.start != 0 || spare == 0 {
		return 0
	}
	var nb []byte
	if len(r.buf) > 0 {
		nb = make([]byte, len(r.buf))
		copy(nb, r.buf)
	}
	r.buf = nb
	return spare
}

// size is the ring's capacity (what it holds of the pool).
func (r *ring) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cap(r.buf)
}

func (r *ring) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.wakeWaiters()
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
	if r.notify == nil {
		r.notify = make(chan struct{})
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
		i := (r.start + int(off-oldest)) % len(r.buf) // n > 0: len(r.buf) > 0
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
