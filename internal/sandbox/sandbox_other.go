//go:build !linux

package sandbox

import (
	"fmt"
	"os"
	"syscall"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

func appliedLayers() []string { return nil }

func unavailable() error {
	return errcode.Fail(errcode.LayerUnavailable, layers.Sandbox, "run the server on Linux",
		"launching processes is only supported on Linux")
}

// Launcher reports the sandbox unavailable on this platform.
type Launcher struct{ cgroups *launchCgroups }

// NewLauncher returns a launcher that refuses every launch.
func NewLauncher(o LauncherOptions) *Launcher {
	return &Launcher{cgroups: newLaunchCgroups(o.Cgroups)}
}

// Start refuses: LAYER_UNAVAILABLE.
func (l *Launcher) Start(spec *policy.Spec, stdio Stdio) (*Process, error) { return nil, unavailable() }

// StartRecorded refuses: LAYER_UNAVAILABLE (record is not called).
func (l *Launcher) StartRecorded(spec *policy.Spec, stdio Stdio, record func(pid int) error) (*Process, error) {
	return nil, unavailable()
}

// Support is what the launcher's cgroups would enforce.
func (l *Launcher) Support() Support { return l.cgroups.support() }

// Close does nothing.
func (l *Launcher) Close() {}

// Process is never created on this platform.
type Process struct{ Pid int }

// Release fails: nothing was started.
func (p *Process) Release() error { return unavailable() }

// Cgroup is nil.
func (p *Process) Cgroup() *cgroup.Group { return nil }

// Abort does nothing.
func (p *Process) Abort() {}

// Signal fails.
func (p *Process) Signal(sig syscall.Signal) error { return os.ErrProcessDone }

// SignalGroup fails.
func (p *Process) SignalGroup(sig syscall.Signal) error { return os.ErrProcessDone }

// Done is closed.
func (p *Process) Done() <-chan struct{} { c := make(chan struct{}); close(c); return c }

// Wait returns at once.
func (p *Process) Wait() ExitState { return ExitState{} }

// SignalName names a signal.
func SignalName(sig syscall.Signal) string {
	if sig == 0 {
		return ""
	}
	return fmt.Sprintf("SIG%d", int(sig))
}

// UserMapping: no user namespaces on this platform.
func UserMapping() string { return "unavailable (not Linux)" }

// HomeOwner is the server's own ids: nothing to chown.
func (iso *Isolation) HomeOwner() agenthome.Owner { return agenthome.Owner{} }

// selfUserNS: no user namespaces off Linux.
func selfUserNS() error { return unavailable() }

// Egress reports no listeners on this platform.
func (p *Process) Egress() (*EgressListeners, bool) { return nil, false }

func captureSupport() error { return unavailable() }

// CaptureSupport reports the capture unavailable on this platform.
func CaptureSupport() error { return unavailable() }

// StartCommitted refuses: LAYER_UNAVAILABLE (record is not called).
func (l *Launcher) StartCommitted(spec *policy.Spec, stdio Stdio, record func(pid int) error) (*Process, error) {
	return nil, unavailable()
}
