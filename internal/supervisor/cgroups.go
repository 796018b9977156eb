package supervisor

import (
	"runtime"
	"syscall"
	"time"

	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// The sandbox creates each launch's cgroup and writes its limits
// (sandbox/cgroups.go); the supervisor gets it from Process.Cgroup, reads
// its figures, kills the tree through it and removes it after the reap.
//
// Limit watching: the kernel enforces every limit; the supervisor only
// watches what the kernel cannot decide on its own: the tree-wide CPU time
// budget (RLIMIT_CPU is per process, so a tree could share it out). A tree
// over its memory limit goes down as one without it: memory.oom.group on
// cgroup v2, the group's held OOM killer and its OOM event on v1 (package
// cgroup).
const (
	minLimitCheck = 100 * time.Millisecond
	maxLimitCheck = 5 * time.Second
)

// signalTree sends sig to p's process group and to every process in its
// cgroup (which also holds descendants that left the group: setsid, double
// fork). The race-free kill of the whole cgroup comes when the leader exits.
func (p *proc) signalTree(sig syscall.Signal) {
	p.sp.SignalGroup(sig)
	if p.cg == nil {
		return
	}
	pids, _ := p.cg.Procs()
	for _, pid := range pids {
		killPid(pid, sig) // members only: a pid listed in the cgroup is alive
	}
}

// watchLimits enforces the tree-wide CPU time budget. It ends when p is
// reaped or the supervisor stops.
func (s *Supervisor) watchLimits(p *proc) {
	defer s.wg.Done()
	budget := time.Duration(p.spec.Limits.MaxCpuTime) * time.Second
	ncpu := time.Duration(runtime.NumCPU())
	// The first look comes when there can be something to see: a new tree
	// has used no CPU time (and reading its cgroup now would take CPU time
	// from its exec).
	first := maxLimitCheck
	if budget > 0 {
		first = min(first, max(budget/ncpu, minLimitCheck))
	}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-s.stop:
			return
		case <-t.C:
		}
		next := maxLimitCheck
		if budget > 0 {
			used, err := p.cg.CPUUsage()
			if err == nil && used >= budget {
				p.requestStop(ReasonCPUTimeLimit, s.limitGrace())
				return
			}
			// The tree cannot burn more than ncpu seconds per second: sleep
			// until the earliest moment the budget could be reached.
			if wait := (budget - used) / ncpu; wait < next {
				next = max(wait, minLimitCheck)
			}
		}
		t.Reset(next)
	}
}

// exitReason decides why p ended when the server did not ask it to stop:
// the memory limit (an OOM kill in its cgroup), the CPU time limit (SIGXCPU
// from RLIMIT_CPU, or SIGKILL at its hard limit / a tree over the budget),
// else "exited". Called with the cgroup still present.
func (p *proc) exitReason(st sandbox.ExitState) string {
	if p.cg != nil && p.spec.Limits.MaxMemoryMB > 0 {
		if n, err := p.cg.OOMKills(); err == nil && n > 0 {
			return ReasonMemoryLimit
		}
	}
	if p.spec.Limits.MaxCpuTime > 0 {
		if st.Signal == sigXCPU {
			return ReasonCPUTimeLimit
		}
		if st.Signal == syscall.SIGKILL && p.cg != nil {
			if used, err := p.cg.CPUUsage(); err == nil && used >= time.Duration(p.spec.Limits.MaxCpuTime)*time.Second {
				return ReasonCPUTimeLimit
			}
		}
	}
	return ReasonExited
}
