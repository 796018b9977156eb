// Package sandbox launches one child exactly as a policy Spec says.
//
// Guarantees (this build, no kernel layers yet): the file that runs is the
// file that passed the policy (opened once, checked by device/inode and for
// setuid/setgid bits, executed by file descriptor); argv, environment and
// working directory are the Spec's, nothing else; the child never inherits
// the server's stdin/stdout/stderr or any other descriptor; it leads its own
// process group, gets SIGKILL if the launching thread dies (Pdeathsig, from
// one locked, long-lived launcher thread), and when it exits the rest of its
// process group is killed before it is reaped, so a group signal can never
// reach a recycled process group id. Resource limits are not enforced yet:
// Enforcement says so, limit by limit.
package sandbox

import (
	"os"
	"syscall"

	"github.com/mcp-process/mcp-process/internal/config"
)

// Stdio are the child's standard streams. A nil file is /dev/null.
// The sandbox only uses them during Start; the caller closes its copies.
type Stdio struct {
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
}

// Layers this build applies to every child.
const (
	LayerExecByFD     = "exec-by-fd"
	LayerProcessGroup = "process-group"
	LayerPdeathsig    = "pdeathsig"
	LayerBuiltEnv     = "built-environment"
)

// ExitState is how a child ended.
type ExitState struct {
	// ExitCode is set when the child exited on its own (nil when killed by a signal).
	ExitCode *int
	// Signal is the signal that killed it (0 when it exited).
	Signal syscall.Signal
}

// Enforcement reports, for the limits of a launch, what this build applies
// and which set limits are not enforced (with the reason).
func Enforcement(l config.ResourceLimits) (applied, notEnforced []string) {
	applied = appliedLayers()
	if l.MaxCpuPercent > 0 {
		notEnforced = append(notEnforced, "maxCpuPercent (needs cgroups: not built yet)")
	}
	if l.MaxMemoryMB > 0 {
		notEnforced = append(notEnforced, "maxMemoryMB (needs cgroups: not built yet)")
	}
	if l.MaxFileDescriptors > 0 {
		notEnforced = append(notEnforced, "maxFileDescriptors (needs rlimits in the init stage: not built yet)")
	}
	if l.MaxCpuTime > 0 {
		notEnforced = append(notEnforced, "maxCpuTime (needs rlimits in the init stage: not built yet)")
	}
	if l.MaxProcesses > 0 {
		notEnforced = append(notEnforced, "maxProcesses (needs cgroups: not built yet)")
	}
	return applied, notEnforced
}
