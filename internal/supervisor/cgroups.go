package supervisor

import (
	"fmt"
	"runtime"
	"syscall"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

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

// sandboxSupport maps the cgroup manager's support onto what the sandbox
// reports per launch. A nil manager (or "none") enforces no cgroup limit.
func sandboxSupport(m *cgroup.Manager) sandbox.Support {
	if m == nil {
		return sandbox.Support{Reasons: map[string]string{
			"memory": "no cgroup manager", "pids": "no cgroup manager", "cpu": "no cgroup manager", "cpuusage": "no cgroup manager"}}
	}
	cs := m.Support()
	return sandbox.Support{Memory: cs.Memory, Pids: cs.Pids, CPU: cs.CPU, CPUTree: cs.CPUUsage, Reasons: cs.Reasons}
}

// usesCgroups says whether launches get a cgroup: whenever the host can
// track, kill or limit a tree with one.
func usesCgroups(m *cgroup.Manager) bool {
	if m == nil {
		return false
	}
	cs := m.Support()
	return cs.Version != "none" && (cs.Kill || cs.Memory || cs.Pids || cs.CPU || cs.CPUUsage)
}

// cgroupLimits maps a launch's limits onto what the host's cgroups enforce
// (the others are reported as not enforced, or refused in strict mode
// before the launch).
func cgroupLimits(cs cgroup.Support, l config.ResourceLimits) cgroup.Limits {
	var cl cgroup.Limits
	if cs.Memory && l.MaxMemoryMB > 0 {
		cl.MemoryBytes = l.MaxMemoryMB << 20
	}
	if cs.Pids && l.MaxProcesses > 0 {
		cl.Pids = l.MaxProcesses
	}
	if cs.CPU && l.MaxCpuPercent > 0 {
		cl.CPUPercent = l.MaxCpuPercent
	}
	return cl
}

// newCgroup creates a cgroup named PREFIX-S-N (S: this supervisor, N: a
// counter): "p" for a launch's own group, "stage" for one a warm init stage
// waits in (it keeps that name once a launch takes the stage).
func (s *Supervisor) newCgroup(prefix string, l cgroup.Limits) (*cgroup.Group, error) {
	s.mu.Lock()
	s.nextCgroup++
	name := fmt.Sprintf("%s-%d-%d", prefix, s.id, s.nextCgroup)
	s.mu.Unlock()
	g, err := s.opts.Cgroups.New(name, l)
	if err != nil {
		return nil, cgroupFailure(err)
	}
	return g, nil
}

func cgroupFailure(err error) *errcode.Error {
	e := errcode.As(err)
	if e.Code == errcode.Internal {
		e = errcode.Fail(errcode.LayerUnavailable, "cgroup", "check the cgroup hierarchy (mcp-process doctor)",
			"cannot set up the launch's cgroup: %v", err)
	}
	return e
}

// cgroupFor puts the stage of sp, waiting at its gate, into a cgroup with
// l's limits: the fresh group its warm stage already waits in (only the
// limits are written), or a new group it is moved into. nil without cgroups.
func (s *Supervisor) cgroupFor(sp *sandbox.Process, l config.ResourceLimits) (*cgroup.Group, error) {
	if !usesCgroups(s.opts.Cgroups) {
		return nil, nil
	}
	cl := cgroupLimits(s.opts.Cgroups.Support(), l)
	if g, ok := sp.Token().(*cgroup.Group); ok {
		if err := g.SetLimits(cl); err != nil {
			releaseStageCgroup(g)
			return nil, cgroupFailure(err)
		}
		return g, nil
	}
	g, err := s.newCgroup("p", cl)
	if err != nil {
		return nil, err
	}
	if err := g.Join(sp.Pid); err != nil {
		releaseStageCgroup(g)
		return nil, cgroupFailure(err)
	}
	return g, nil
}

// cgroupDuring is the during hook of Launcher.StartWith: it puts the stage
// into its cgroup (cgroupFor) while the stage applies its steps, leaving the
// group in *cg. Called again for another stage (the first was gone before
// it got the launch), it first removes the group made for that one.
func (s *Supervisor) cgroupDuring(cg **cgroup.Group, l config.ResourceLimits) func(*sandbox.Process) error {
	return func(sp *sandbox.Process) (err error) {
		if *cg != nil {
			releaseStageCgroup(*cg)
		}
		*cg, err = s.cgroupFor(sp, l)
		return err
	}
}

// prepareStage moves a warm init stage into a fresh cgroup without limits
// (LauncherOptions.Prepare: on the launcher thread, off any launch's path).
func (s *Supervisor) prepareStage(pid int) (any, error) {
	g, err := s.newCgroup("stage", cgroup.Limits{})
	if err != nil {
		return nil, err
	}
	if err := g.Join(pid); err != nil {
		releaseStageCgroup(g)
		return nil, err
	}
	return g, nil
}

// releaseStageCgroup kills what is in a launch's or a stage's cgroup and
// removes it.
func releaseStageCgroup(token any) {
	if g, ok := token.(*cgroup.Group); ok {
		g.Kill()
		g.Remove()
	}
}

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
