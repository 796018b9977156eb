package supervisor

import (
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// launcher is the sandbox's Launcher, with StartWith for the one launch
// that needs a step of its own while the stage waits at its gate: a
// service's health check, moved into its instance's cgroup (health.go).
type launcher struct{ *sandbox.Launcher }

// StartWith is Start, then during on the started process, whose stage
// still waits at its gate (Abort on error: nothing runs).
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
