package sandbox

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// The launch's control group is a containment step like the others, and the
// sandbox owns it: a warm stage waits in a fresh group of its own (so that a
// launch only writes its limits there instead of creating a group and
// moving a multi-threaded stage into it); a cold stage gets a new group.
// Either way the limits are written while the stage applies its steps, so
// that when Start returns the stage waits at its gate inside its limited
// group, before the target can run, fork or allocate. A launch that fails
// or is aborted leaves no group behind; after Release the caller reads the
// group's figures (Process.Cgroup) and removes it once the process is
// reaped.

// launchCgroups gives each launch of one Launcher its own cgroup.
type launchCgroups struct {
	m    *cgroup.Manager // nil: no cgroups
	id   uint64          // the launcher's number (group names)
	next atomic.Uint64
	pool *groupPool // fresh groups for launches without a warm stage (cgroups_pool.go); nil: none
}

// launcherSeq numbers the launchers of this process (cgroup names).
var launcherSeq atomic.Uint64

func newLaunchCgroups(m *cgroup.Manager) *launchCgroups {
	return &launchCgroups{m: m, id: launcherSeq.Add(1)}
}

// enabled says whether launches get a cgroup: whenever the host can
// track, kill or limit a tree with one.
func (c *launchCgroups) enabled() bool {
	if c == nil || c.m == nil {
		return false
	}
	cs := c.m.Support()
	return cs.Version != "none" && (cs.Kill || cs.Memory || cs.Pids || cs.CPU || cs.CPUUsage)
}

// support is what the cgroup manager enforces for a launch. Without a
// manager no cgroup limit is enforced.
func (c *launchCgroups) support() Support {
	if c == nil || c.m == nil {
		return Support{Reasons: map[string]string{
			"memory": "no cgroup manager", "pids": "no cgroup manager", "cpu": "no cgroup manager", "cpuusage": "no cgroup manager"}}
	}
	return Support(c.m.Support())
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

// newGroup creates a cgroup named PREFIX-L-N (L: this launcher, N: a
// counter): "p" for a launch's own group, "stage" for one a warm init stage
// waits in (it keeps that name once a launch takes the stage).
func (c *launchCgroups) newGroup(prefix string, l cgroup.Limits) (*cgroup.Group, error) {
	name := fmt.Sprintf("%s-%d-%d", prefix, c.id, c.next.Add(1))
	g, err := c.m.New(name, l)
	if err != nil {
		return nil, cgroupFailure(err)
	}
	return g, nil
}

func cgroupFailure(err error) *errcode.Error {
	e := errcode.As(err)
	if e.Code == errcode.Internal {
		e = errcode.Fail(errcode.LayerUnavailable, layers.ResourceLimits, "check the cgroup hierarchy (mcp-process doctor)",
			"cannot set up the launch's cgroup: %v", err).WithCause(err)
	}
	return e
}

// place puts the stage pid, applying its steps, into a cgroup with l's
// limits: warm, the fresh group its warm stage already waits in (only the
// limits are written), or a new group it is moved into: one from the pool
// of fresh groups (cgroups_pool.go: made with these limits ahead of time),
// or, when the pool is empty, off or made for other limits, one made here. nil without cgroups. On error
// no group is left (warm and pooled included).
func (c *launchCgroups) place(pid int, warm *cgroup.Group, l config.ResourceLimits) (*cgroup.Group, error) {
	if !c.enabled() {
		return nil, nil
	}
	cl := cgroupLimits(c.m.Support(), l)
	if warm != nil {
		if err := warm.SetLimits(cl); err != nil {
			dropGroup(warm)
			return nil, cgroupFailure(err)
		}
		return warm, nil
	}
	g, procs, err := c.fresh(cl)
	closeFiles(procs) // the stage is moved by this process, not joined by itself
	if err != nil {
		return nil, err
	}
	if err := g.Join(pid); err != nil {
		dropGroup(g)
		return nil, cgroupFailure(err)
	}
	return g, nil
}

// fresh is a group no process was ever in, with limits cl: from the pool
// of fresh groups when it holds one made with cl (with its cgroup.procs
// files when the pool opened them: the caller closes them), else made here
// (no files).
func (c *launchCgroups) fresh(cl cgroup.Limits) (*cgroup.Group, []*os.File, error) {
	if g, procs := c.pool.take(cl); g != nil { // made ahead of time with these limits
		return g, procs, nil
	}
	g, err := c.newGroup("p", cl)
	return g, nil, err
}

// forChild is place for a child that joins its group itself, as the
// zygote's does (stage.SetGroups): a fresh group, as place takes or makes
// it, and its cgroup.procs files for the child (the caller closes them,
// and drops the group if the launch does not go on). nil, nil without
// cgroups. On error no group is left.
func (c *launchCgroups) forChild(l config.ResourceLimits) (*cgroup.Group, []*os.File, error) {
	if !c.enabled() {
		return nil, nil, nil
	}
	g, files, err := c.fresh(cgroupLimits(c.m.Support(), l))
	if err != nil {
		return nil, nil, err
	}
	if files != nil { // opened by the pool with the group
		return g, files, nil
	}
	if files, err = g.ProcsFiles(); err != nil {
		dropGroup(g)
		return nil, nil, cgroupFailure(err)
	}
	return g, files, nil
}

// closeFiles closes each of files.
func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// prepare moves a warm init stage into a fresh cgroup without limits (on
// the launcher thread, off any launch's path). nil without cgroups.
func (c *launchCgroups) prepare(pid int) (*cgroup.Group, error) {
	if !c.enabled() {
		return nil, nil
	}
	g, err := c.newGroup("stage", cgroup.Limits{})
	if err != nil {
		return nil, err
	}
	if err := g.Join(pid); err != nil {
		dropGroup(g)
		return nil, err
	}
	return g, nil
}

// dropGroup kills what is in a launch's or a stage's cgroup and removes it.
func dropGroup(g *cgroup.Group) {
	if g != nil {
		g.Kill()
		g.Remove()
	}
}
