package supervisor

import (
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// launcher is the sandbox's Launcher. Its StartWith and cgroupDuring keep
// the call shape the service health check (services.go) still uses while
// that code is reworked elsewhere; they add nothing: the sandbox applies the
// launch's cgroup step itself (Start), and cgroupDuring only hands the group
// back. Delete both once checkHealth calls Start and Process.Cgroup.
type launcher struct{ *sandbox.Launcher }

// StartWith is Start, then during on the started process (Abort on error).
func (l launcher) StartWith(spec *policy.Spec, stdio sandbox.Stdio, during func(*sandbox.Process) error) (*sandbox.Process, error) {
	sp, err := l.Start(spec, stdio)
	if err != nil {
		return nil, err
	}
	if err := during(sp); err != nil {
		sp.Abort()
		return nil, err
	}
	return sp, nil
}

// cgroupDuring leaves the launch's cgroup (Process.Cgroup) in *cg; the
// limits are the Spec's, written by the sandbox.
func (s *Supervisor) cgroupDuring(cg **cgroup.Group, _ config.ResourceLimits) func(*sandbox.Process) error {
	return func(sp *sandbox.Process) error {
		*cg = sp.Cgroup()
		return nil
	}
}
