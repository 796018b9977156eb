package supervisor

// fill is write with the bytes read straight into the ring's buffer: one
// call of read into the buffer's next free or oldest bytes (at most
// outputReadSize), under the ring's lock, so the result is the same as
// reading into another buffer and writing that, without the copy. ok is
// false, and read is not called, when the ring would first have to grow
// (or retains nothing): the caller then reads into a buffer and writes it.
// read must not block (a non-blocking descriptor): the lock is held.
func (r *ring) fill(read func([]byte) (int, error)) (n int, err error, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	appending := r.start == 0 && len(r.buf) < cap(r.buf)
	var dst []byte
	switch {
	case appending:
		dst = r.buf[len(r.buf):cap(r.buf)]
	case cap(r.buf) < r.limit || len(r.buf) == 0:
		return 0, nil, false
	default:
		dst = r.buf[r.start:]
	}
	n, err = read(dst[:min(len(dst), outputReadSize)])
	if n <= 0 || err != nil {
		return n, err, true
	}
	if appending {
		r.buf = r.buf[:len(r.buf)+n]
	} else {
		r.start = (r.start + n) % len(r.buf)
	}
	r.total += int64(n)
	r.wakeWaiters()
	return n, nil, true
}
