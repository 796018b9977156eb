// Package sandbox launches one child exactly as a policy Spec says.
//
// Every launch goes through the init stage (package stage): a re-exec of
// the server's own binary that applies the containment steps in one fixed
// order and then execs the target by file descriptor. The sandbox also puts
// the stage into the launch's own cgroup with its limits written (when the
// Launcher has a cgroup manager). Start returns once the stage is ready and
// waiting at its gate, so the caller can record the launch before Release
// lets the target run; Abort makes sure it never does.
//
// The stage's own Go runtime start costs more than a bare fork and exec, so
// a Launcher keeps a few stages started ahead of time (two by default):
// each idles, blocked on its own socket, with /dev/null as 0, 1, 2 and
// nothing else of the server, until Start hands it the config, the
// executable and the stdio (SCM_RIGHTS). When the pool is empty Start
// starts a stage cold. The pool is refilled from the launcher thread once a
// launch is released or aborted (25 ms later while a warm stage is left),
// never on a launch's latency path. Idle stages are not processes of any
// launch: Close kills and reaps them, and Pdeathsig kills them with the
// launcher thread like every child. Each stage's keeper (stage package: a
// child of the server holding the stage's memory so that the exec does not
// tear it down) is reaped with its stage, or as soon as it exits after the
// exec.
//
// Guarantees: the file that runs is the file that passed the policy (opened
// once, checked by device/inode and for setuid/setgid bits, executed by file
// descriptor); argv, environment and working directory are the Spec's,
// nothing else; the child never inherits the server's stdin/stdout/stderr or
// any other descriptor; RLIMIT_NOFILE (maxFileDescriptors) and RLIMIT_CPU
// (maxCpuTime) are set and core dumps are off; a step that cannot be applied
// fails the launch and the target never runs. The child leads its own
// process group, gets SIGKILL if the launching thread dies (Pdeathsig, from
// one locked, long-lived launcher thread), and when it exits the rest of its
// process group is killed before it is reaped, so a group signal can never
// reach a recycled process group id. Limits that need cgroups are enforced
// only as far as Support says, and are in place before the target runs;
// Enforcement reports the rest, limit by limit.
package sandbox

import (
	"os"
	"strconv"
	"syscall"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// Stdio are the child's standard streams. A nil file is /dev/null.
// The sandbox only uses them during Start; the caller closes its copies.
type Stdio struct {
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
	// Terminal says Stdin, Stdout and Stderr are one pseudo-terminal's
	// slave (OpenTerminal): the child makes it its controlling terminal.
	Terminal bool
}

// ExitState is how a child ended.
type ExitState struct {
	// ExitCode is set when the child exited on its own (nil when killed by a signal).
	ExitCode *int
	// Signal is the signal that killed it (0 when it exited).
	Signal syscall.Signal
}

func (s ExitState) String() string {
	switch {
	case s.Signal != 0:
		return "killed by " + SignalName(s.Signal)
	case s.ExitCode != nil:
		return "exit status " + strconv.Itoa(*s.ExitCode)
	}
	return "not exited"
}

// Support says which cgroup limits the host enforces for a launch, and why
// not the others: the cgroup manager's own report (Reasons keyed "memory",
// "pids", "cpu", "cpuusage"; CPUUsage: the tree's CPU time can be read, for
// the maxCpuTime budget of a whole tree beyond RLIMIT_CPU per process). The
// zero value enforces none of them. Launcher.Support gives a launcher's.
type Support cgroup.Support

// Enforcement reports, for the limits of a launch, what this build applies
// without cgroups and which set limits are not enforced (with the reason).
func Enforcement(l config.ResourceLimits) (applied, notEnforced []string) {
	return Support{}.Enforcement(l)
}

// Enforcement reports, for the limits of a launch, what is applied (the
// layers every child gets, then one entry per enforced limit, "KEY
// (mechanism)") and which set limits are not enforced, "KEY (reason)".
func (s Support) Enforcement(l config.ResourceLimits) (applied, notEnforced []string) {
	applied = appliedLayers()
	if len(applied) == 0 {
		return nil, nil // nothing launches on this platform
	}
	limits := []struct {
		key    string
		set    bool
		ok     bool
		how    string
		reason string
	}{
		{"maxCpuPercent", l.MaxCpuPercent > 0, s.CPU, "cgroup", s.Reasons["cpu"]},
		{"maxMemoryMB", l.MaxMemoryMB > 0, s.Memory, "cgroup", s.Reasons["memory"]},
		{"maxFileDescriptors", l.MaxFileDescriptors > 0, true, "rlimit", ""},
		{"maxCpuTime", l.MaxCpuTime > 0, true, "rlimit", ""},
		{"maxProcesses", l.MaxProcesses > 0, s.Pids, "cgroup", s.Reasons["pids"]},
	}
	if l.MaxCpuTime > 0 && !s.CPUUsage {
		// RLIMIT_CPU still holds per process; the tree's shared budget
		// cannot be watched here (refused with strictResourceEnforcement).
		why := s.Reasons["cpuusage"]
		if why == "" {
			why = "needs cgroup CPU accounting: not available"
		}
		notEnforced = append(notEnforced, "maxCpuTime for the whole tree ("+why+"; RLIMIT_CPU applies per process)")
	}
	for _, x := range limits {
		switch {
		case !x.set:
		case x.ok:
			applied = append(applied, x.key+" ("+x.how+")")
		default:
			if x.reason == "" {
				x.reason = "needs cgroups: not available"
			}
			notEnforced = append(notEnforced, x.key+" ("+x.reason+")")
		}
	}
	return applied, notEnforced
}

// LauncherOptions configure a Launcher.
type LauncherOptions struct {
	// PoolSize is how many warm stages to keep (0: the default, 2;
	// negative: none, every launch starts its stage cold).
	PoolSize int
	// Plain switches the performance machinery off: no warm pool (as
	// PoolSize < 0), no pool of fresh cgroups (each launch makes its
	// group on its path), and stages without a keeper, trimming or prefaulting
	// (stage.ArgPlain). The containment is the same; tests use it to show
	// that the pooled path is as isolated as this one. false: all of it on.
	Plain bool
	// Cgroups gives every launch its own cgroup, with the launch's memory,
	// pids and CPU limits written before the target runs (warm stages wait
	// in a fresh group of their own). nil: no cgroups; those limits are
	// then reported as not enforced (Support).
	Cgroups *cgroup.Manager
	// GroupLimits are the limits most launches ask for (the
	// configuration's defaultResourceLimits): the pool of fresh cgroups
	// (cgroups_pool.go) makes its groups with them ahead of time, so that
	// such a launch only moves its child into one. A launch asking for
	// other limits gets a group made with them on its path. The zero
	// value: groups without limits, for launches that ask for none.
	GroupLimits config.ResourceLimits
	// Stage chooses what contains an eligible launch: the zygote (no Go
	// runtime per launch) or a Go init stage (zygote_linux.go). Plain
	// implies StageGo.
	Stage StageKind
	// Isolation is applied to every stage (warm ones are cloned into its
	// namespaces ahead of their launch). Build it with IsolationFor; the
	// zero value applies only what every child gets (appliedLayers).
	Isolation Isolation
}
