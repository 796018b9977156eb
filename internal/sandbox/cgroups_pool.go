package sandbox

// Performance machinery, not a security step: the pool of launch groups.
// A launch whose child is not a warm stage (a child the zygote forked, a
// stage started cold) needs a cgroup made on its path: a directory in every
// hierarchy (on cgroup v1, one per controller), its limits, then the move.
// The launcher keeps groupPoolSize groups made ahead of time by a goroutine
// of its own, with the limits most launches ask for (LauncherOptions.
// GroupLimits: the configuration's defaultResourceLimits), so that such a
// launch only moves its child (place). A pooled group is exactly a new
// group made with the launch's limits:
//   - made by the same newGroup, with the same limits (a launch asking for
//     other limits takes none and gets a group made on its path: a group is
//     limited once, as it is made, never re-limited), and named as a new
//     group is (p-L-N);
//   - no process was ever in it: nothing of ours joins it while it is
//     pooled (take does not read cgroup.events to check: that cost more
//     than half of what the pool saves, and only root or the owner of the
//     delegated tree could put a process there, who could as well into a
//     group made on the launch's path);
//   - used by one launch only: taken out of the pool, never put back; it
//     goes with its launch as a new group does.
//
// The pool also opens each group's cgroup.procs files as it makes it (what
// a zygote's child writes to join the group: Group.ProcsFiles), so that a
// launch through the zygote does not open them on its path. They are the
// files such a launch would open: opened by this process, with its
// credentials, write-only and close-on-exec, for a group no process was
// ever in; the launch that takes the group takes them with it (and closes
// them once sent), and a group that leaves the pool otherwise (a launch
// through a stage, Close) has them closed. A group whose files could not be
// opened is pooled without them, and its launch opens them itself.
//
// The refill runs once the launch that took a group is through (released:
// Launcher.launched), off that launch's path and while its target runs, so
// that a steady stream of launches (one client: one launch every few ms)
// finds the pool full; and groupRefillDelay after a take whose launch is
// never released (aborted before). Launcher.Close stops the goroutine,
// which removes the groups still pooled. LauncherOptions.Plain switches the pool off;
// TestPooledLaunchIsolatedAsCold compares the groups of the two, and
// TestPooledCgroupIsFresh every control file of a pooled and a new group.

import (
	"os"
	"slices"
	"sync"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// groupPoolSize is how many fresh groups a launcher keeps: one per launch
// set up at the same moment (four clients), refilled as each is through.
const groupPoolSize = 4

// groupRefillDelay is how long after a take the pool is topped up (as the
// warm stages' refillDelay).
const groupRefillDelay = 25 * time.Millisecond

// groupPool is a launcher's pool of fresh launch groups.
type groupPool struct {
	c      *launchCgroups
	limits cgroup.Limits // what every pooled group is made with
	taken  chan struct{} // cap 1: a take (or a miss): refill after groupRefillDelay
	now    chan struct{} // cap 1: a launch is through: refill at once
	quit   <-chan struct{}
	done   chan struct{}

	mu     sync.Mutex
	free   []pooledGroup // oldest first
	closed bool          // the goroutine ended: take finds nothing
}

// pooledGroup is a group in the pool and its cgroup.procs files (nil: not
// opened).
type pooledGroup struct {
	g     *cgroup.Group
	procs []*os.File
}

// startPool starts the pool's goroutine, which fills the pool at once with
// groups limited to l (what the host enforces of it, as for a launch) and
// ends when quit is closed (the launcher's Close), removing the groups it
// still holds; stopPool waits for that. Nothing without cgroups.
func (c *launchCgroups) startPool(quit <-chan struct{}, l config.ResourceLimits) {
	if !c.enabled() || c.pool != nil {
		return
	}
	c.pool = &groupPool{c: c, limits: cgroupLimits(c.m.Support(), l), taken: make(chan struct{}, 1), now: make(chan struct{}, 1), quit: quit, done: make(chan struct{})}
	go c.pool.run()
}

// stopPool waits until the pool's goroutine, told by quit, has ended and
// removed its groups.
func (c *launchCgroups) stopPool() {
	if c != nil && c.pool != nil {
		<-c.pool.done
	}
}

func (p *groupPool) run() {
	defer close(p.done)
	defer p.drain()
	delay := time.NewTimer(0) // the first fill at once
	defer delay.Stop()
	armed := true
	for {
		select {
		case <-p.taken:
			if !armed {
				delay.Reset(groupRefillDelay)
				armed = true
			}
		case <-delay.C:
			armed = false
			p.fill()
		case <-p.now:
			p.fill()
		case <-p.quit:
			return
		}
	}
}

// fill makes groups until the pool is full; it stops at the first error
// (the next take asks again).
func (p *groupPool) fill() {
	for {
		select {
		case <-p.quit:
			return
		default:
		}
		p.mu.Lock()
		full := len(p.free) >= groupPoolSize
		p.mu.Unlock()
		if full {
			return
		}
		g, err := p.c.newGroup("p", p.limits)
		if err != nil {
			return
		}
		procs, err := g.ProcsFiles()
		if err != nil {
			procs = nil // the launch that takes g opens them (and reports why not)
		}
		p.mu.Lock()
		p.free = append(p.free, pooledGroup{g, procs})
		p.mu.Unlock()
	}
}

// drain removes the pooled groups (the goroutine, as it ends).
func (p *groupPool) drain() {
	p.mu.Lock()
	free := p.free
	p.free, p.closed = nil, true
	p.mu.Unlock()
	for _, f := range free {
		closeFiles(f.procs)
		dropGroup(f.g)
	}
}

// take returns the oldest pooled group and its cgroup.procs files (nil if
// the pool could not open them; the caller closes them) when l is the
// pool's limits, nil when there is none or l differs (the caller makes a
// new group with l), and asks for a refill after a take or a miss.
func (p *groupPool) take(l cgroup.Limits) (*cgroup.Group, []*os.File) {
	if p == nil || l != p.limits {
		return nil, nil
	}
	var f pooledGroup
	p.mu.Lock()
	if len(p.free) > 0 && !p.closed {
		f = p.free[0]
		p.free = slices.Delete(p.free, 0, 1)
	}
	p.mu.Unlock()
	select {
	case p.taken <- struct{}{}:
	default: // already asked
	}
	return f.g, f.procs
}

// through asks for a refill at once: a launch is through (released, its
// target running or its exec failed), so the refill is off its path.
func (p *groupPool) through() {
	if p == nil {
		return
	}
	select {
	case p.now <- struct{}{}:
	default: // already asked
	}
}

// pooled lists the groups in the pool (tests).
func (p *groupPool) pooled() []*cgroup.Group {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*cgroup.Group, len(p.free))
	for i, f := range p.free {
		out[i] = f.g
	}
	return out
}
