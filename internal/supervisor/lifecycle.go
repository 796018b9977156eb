package supervisor

import (
	"os"
	"runtime"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// armLifetime stops p when its lifetime (spec.Lifetime, else
// maxProcessLifetime) ends: "lifetime" when that is maxProcessLifetime,
// "timeout" when the request shortened it.
func (s *Supervisor) armLifetime(p *proc) {
	max := time.Duration(s.cfg.MaxProcessLifetime) * time.Second
	life := p.spec.Lifetime
	if life <= 0 || (max > 0 && life > max) {
		life = max
	}
	if life <= 0 {
		return
	}
	reason := ReasonTimeout
	if life == max {
		reason = ReasonLifetime
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.exited {
		grace := s.limitGrace()
		p.lifeTimer = time.AfterFunc(life, func() { p.requestStop(reason, grace) })
	}
}

// read copies one output pipe into its ring until EOF (a terminal's
// master: EIO once no slave is open).
func (s *Supervisor) read(p *proc, f *os.File, r *ring, stream string) {
	defer s.wg.Done()
	defer func() {
		if r != nil {
			r.close()
		}
		f.Close()
		p.readDone <- struct{}{}
	}()
	// r nil: a terminal's output without capture, discarded.
	readOutput(f, r, func() {
		if s.opts.OnOutput != nil {
			s.opts.OnOutput(p.pid, stream)
		}
	})
}

// watch reaps p, drains its output, records the exit and releases its
// concurrency slot.
func (s *Supervisor) watch(p *proc) {
	defer s.wg.Done()
	st := p.sp.Wait() // also kills what is left of the process group
	p.killLeftovers()
	closeEgress(p.egress) // the tree has ended
	p.drainReaders()
	// Its output is complete: the first to go when the server's retained
	// output reaches maxRetainedOutputBytes.
	s.pool.exit(p.out, p.errb)
	exitCode, signal, reason := p.markExited(st, s.now())
	if p.kind != KindHealthCheck { // forgotten by its check as soon as it ended (checkHealth)
		s.mu.Lock()
		s.exited = append(s.exited, p) // the janitor's queue, in exit order
		s.mu.Unlock()
	}
	p.closeStdin()
	s.releaseSlot(p)
	s.recordOrWarn(audit.Record{Event: audit.EventExit, Agent: p.agent, Tool: p.tool, PID: p.pid, Executable: p.spec.Path,
		ExitCode: exitCode, Signal: signal, TerminationReason: reason, ServiceID: p.serviceID})
	close(p.done)
	if s.opts.OnStateChange != nil && p.kind != KindHealthCheck {
		s.opts.OnStateChange(p.agent, p.pid, false)
	}
	if p.cg != nil {
		// The tree is dead and its figures read: removing the (empty)
		// cgroup is housekeeping, off the caller's path: yield first, so
		// that the caller woken by done runs before it. Shutdown waits for
		// it (this goroutine is in s.wg).
		runtime.Gosched()
		p.cg.Remove()
	}
}

// killLeftovers kills what is left of p's tree in its cgroup: descendants
// that left the process group (setsid, double fork) are still in the
// cgroup, and are killed all at once, race-free. (An empty group, the
// usual case, costs one read.)
func (p *proc) killLeftovers() {
	if p.cg == nil {
		return
	}
	if pop, err := p.cg.Populated(); err != nil || pop {
		p.cg.Kill()
	}
}

// drainReaders waits for p's output readers to reach EOF. The group is
// dead, so the pipes reach EOF; a descendant that left the group could
// hold them open: after readerDrainAfterExit the read ends are closed.
func (p *proc) drainReaders() {
	drain := time.NewTimer(readerDrainAfterExit)
	for n := len(p.readEnds); n > 0; {
		select {
		case <-p.readDone:
			n--
		case <-drain.C:
			for _, f := range p.readEnds {
				f.Close()
			}
		}
	}
	drain.Stop()
}

// markExited records p's end (st, at end) and stops its kill and lifetime
// timers; it returns the exit code, signal and reason recorded.
func (p *proc) markExited(st sandbox.ExitState, end time.Time) (*int, string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.exited = true
	p.end = end
	p.exitCode = st.ExitCode
	p.signal = sandbox.SignalName(st.Signal)
	if p.reason == "" {
		p.reason = p.exitReason(st)
	}
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	if p.lifeTimer != nil {
		p.lifeTimer.Stop()
	}
	return p.exitCode, p.signal, p.reason
}

// releaseSlot gives p's concurrency slot back (a health check held none:
// health.go).
func (s *Supervisor) releaseSlot(p *proc) {
	if p.kind == KindHealthCheck {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.perAgent[p.agent]--
	if s.perAgent[p.agent] == 0 {
		delete(s.perAgent, p.agent)
	}
}
