//go:build linux

package sandbox

// Performance machinery, not a security step: the warm pool. Stages are
// started ahead of time (already cloned into the isolation's namespaces and,
// with cgroups, in a fresh group of their own) and idle until a launch takes
// one. LauncherOptions.PoolSize < 0 switches the pool off; a pooled launch
// is contained exactly like a cold one (TestPooledLaunchIsolatedAsCold).

import (
	"os"
	"slices"
	"time"

	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"golang.org/x/sys/unix"
)

// stageProc is a started init stage that has not received a launch yet.
type stageProc struct {
	proc  *os.Process   // pidfd-backed
	sock  *os.File      // our end of its socketpair (non-blocking, in the poller)
	group *cgroup.Group // the fresh cgroup it waits in; nil without cgroups
	keeps keeperState
}

type coldResp struct {
	s   *stageProc
	err error
}

// defaultPoolSize is how many warm stages a launcher keeps.
const defaultPoolSize = 2

// refillDelay is how long after a launch the pool is topped up while it
// still holds a warm stage (an empty pool is refilled at once).
const refillDelay = 25 * time.Millisecond

// topUp starts stages until the pool is full, one at a time, and serves a
// launch waiting for a cold stage before each.
func (l *Launcher) topUp() {
	for {
		select {
		case r := <-l.reqs:
			s, err := l.startStage()
			r <- coldResp{s, err}
			continue
		case <-l.quit:
			return
		default:
		}
		l.mu.Lock()
		full := len(l.idle) >= l.poolSize
		l.mu.Unlock()
		if full {
			return
		}
		s, err := l.startStage()
		if err != nil {
			return // the next launch starts cold, and asks again
		}
		s.sock.SetDeadline(time.Now().Add(stageTimeout))
		err = s.keeps.read(s.sock)
		s.sock.SetDeadline(time.Time{})
		if err != nil {
			l.discard(s)
			return
		}
		if s.group, err = l.cgroups.prepare(s.proc.Pid); err != nil {
			s.group = nil
			l.discard(s)
			return
		}
		l.mu.Lock()
		l.idle = append(l.idle, s)
		l.mu.Unlock()
	}
}

// drain ends the pool (the launcher thread adds no stage after it): every
// idle stage is killed and reaped.
func (l *Launcher) drain() {
	l.mu.Lock()
	idle := l.idle
	l.idle = nil
	l.mu.Unlock()
	for _, s := range idle {
		l.discard(s)
	}
}

// discard kills an idle stage, reaps it and its keeper and removes its
// cgroup.
func (l *Launcher) discard(s *stageProc) {
	s.sock.Close()
	s.proc.Kill()
	if !s.keeps.known {
		exited(s.proc.Pid)
		s.keeps.find(s.proc.Pid)
	}
	s.proc.Wait()
	s.keeps.reap()
	dropGroup(s.group)
}

// wantRefill asks the launcher thread to top the pool up.
func (l *Launcher) wantRefill() {
	if l == nil || l.poolSize == 0 {
		return
	}
	select {
	case l.refill <- struct{}{}:
	default: // already asked
	}
}

// launched asks for a refill once a launch is through (released or
// aborted): of the pool of fresh groups at once; of the warm stages at
// once if there is none left, else after refillDelay, off the new
// target's first moments.
func (l *Launcher) launched() {
	if l == nil {
		return
	}
	if l.cgroups != nil {
		l.cgroups.pool.through() // the pool of fresh groups, at once (cgroups_pool.go)
	}
	if l.poolSize == 0 {
		return
	}
	l.mu.Lock()
	left := len(l.idle)
	l.mu.Unlock()
	if left == 0 {
		l.wantRefill()
		return
	}
	select {
	case l.later <- struct{}{}:
	default: // already asked
	}
}

// take returns the oldest warm stage that is still alive (pooled), or a
// new one from the launcher thread.
func (l *Launcher) take() (s *stageProc, pooled bool, err error) {
	for {
		l.mu.Lock()
		if len(l.idle) > 0 {
			s = l.idle[0]
			l.idle = slices.Delete(l.idle, 0, 1)
		}
		l.mu.Unlock()
		if s == nil {
			break
		}
		if s.idleAlive() {
			return s, true, nil
		}
		l.discard(s)
		s = nil
		l.wantRefill()
	}
	r := make(chan coldResp, 1)
	select {
	case l.reqs <- r:
	case <-l.quit:
		return nil, false, errClosed()
	}
	resp := <-r
	return resp.s, false, resp.err
}

// idleAlive reports whether an idle stage can still take a launch: its
// socket shows neither data nor a hang-up (the stage never writes before it
// has a config, and its end closes when it dies).
func (s *stageProc) idleAlive() bool {
	rc, err := s.sock.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		ok = err == nil && n == 0
	})
	return ok
}
