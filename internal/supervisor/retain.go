package supervisor

import (
	"slices"
	"sync"
)

// outputPool is the server-wide cap on retained output
// (maxRetainedOutputBytes, SPEC 7.2): every ring's capacity is reserved
// from it. When a ring would grow past the cap, the output of the
// processes that exited longest ago is dropped first (their status and
// byte counts stay); when no exited process has output left, the ring
// gets what is free (possibly nothing) and wraps at the size it has.
//
// Lock order: a ring's mu, then pool.mu; a ring being dropped is locked
// with no pool lock held, and only rings that are no longer written
// (their process exited, its readers done) are ever dropped, so no two
// writers wait on each other.
type outputPool struct {
	mu     sync.Mutex
	limit  int64
	used   int64
	exited []*ring // droppable, oldest exit first
}

func newOutputPool(limit int64) *outputPool {
	return &outputPool{limit: limit}
}

// reserve grants up to n bytes, dropping exited processes' output (oldest
// first) to make room.
func (o *outputPool) reserve(n int) int {
	for {
		o.mu.Lock()
		free := o.limit - o.used
		if free >= int64(n) || len(o.exited) == 0 {
			g := max(0, min(int64(n), free))
			o.used += g
			o.mu.Unlock()
			return int(g)
		}
		victim := o.exited[0]
		o.exited = o.exited[1:]
		o.mu.Unlock()
		o.release(victim.drop())
	}
}

func (o *outputPool) release(n int) {
	o.mu.Lock()
	o.used -= int64(n)
	o.mu.Unlock()
}

// exit makes a process's rings droppable: it exited and they are closed.
// Their unused capacity goes back to the pool first (ring.trim).
func (o *outputPool) exit(rs ...*ring) {
	freed := 0
	for _, r := range rs {
		if r != nil {
			freed += r.trim() // the ring's lock before the pool's
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.used -= int64(freed)
	for _, r := range rs {
		if r != nil {
			o.exited = append(o.exited, r)
		}
	}
}

// forget releases a forgotten process's rings.
func (o *outputPool) forget(rs ...*ring) {
	for _, r := range rs {
		if r == nil {
			continue
		}
		o.mu.Lock()
		// The janitor forgets the earliest exits first: r is at the front,
		// dropped without copying the rest.
		if i := slices.Index(o.exited, r); i == 0 {
			o.exited[0] = nil
			o.exited = o.exited[1:]
		} else if i > 0 {
			o.exited = slices.Delete(o.exited, i, i+1)
		}
		o.mu.Unlock()
		o.release(r.drop())
	}
}

// retained is the capacity reserved by every ring (tests, stats).
func (o *outputPool) retained() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.used
}
