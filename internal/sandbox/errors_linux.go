//go:build linux

package sandbox

// Error mapping: a failed step of the stage becomes the tool's error. This
// is the one place in the sandbox that names config keys in its errors.

import (
	"fmt"
	"syscall"

	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
	"golang.org/x/sys/unix"
)

// stepError turns a failed step of the stage into the tool's error.
func (p *Process) stepError(se *stage.StepError) *errcode.Error {
	errno := syscall.Errno(se.Errno)
	what := fmt.Sprintf("init stage step %q: %s", se.Step, se.Detail)
	if errno != 0 {
		what += ": " + errno.Error()
	}
	layerFault := errno == unix.EPERM || errno == unix.ENOSYS || errno == unix.EINVAL
	switch se.Step {
	case stage.StepRlimit:
		key, value := "resource limit", uint64(0)
		switch se.Resource {
		case unix.RLIMIT_NOFILE:
			key, value = "maxFileDescriptors", uint64(p.limits.MaxFileDescriptors)
		case unix.RLIMIT_CPU:
			key, value = "maxCpuTime", uint64(p.limits.MaxCpuTime)
		case unix.RLIMIT_CORE:
			key = "core dump limit"
		}
		if !layerFault {
			return errcode.Fail(errcode.Internal, layers.ResourceLimits, "", "%s: %s", key, what)
		}
		return errcode.Fail(errcode.LayerUnavailable, layers.ResourceLimits,
			fmt.Sprintf("lower %s to at most %d, or raise the server's hard limit (ulimit -H, systemd Limit*=) before starting it", key, se.Max),
			"%s %d cannot be enforced: it is above the server's hard limit %d (%s)", key, value, se.Max, what)
	case stage.StepChdir:
		if errno == unix.ENOENT || errno == unix.ENOTDIR {
			return errcode.Fail(errcode.CwdNotFound, layer, "use an existing directory",
				"working directory %s does not exist (any more)", p.dir)
		}
		return errcode.Fail(errcode.Internal, layer, "", "%s", what)
	case stage.StepCgroup:
		// The zygote's child joining its group: what a failed Join by the
		// server was (cgroupFailure).
		return errcode.Fail(errcode.LayerUnavailable, layers.ResourceLimits, "check the cgroup hierarchy (mcp-process doctor)",
			"cannot set up the launch's cgroup: the child could not join it (%s)", what)
	case stage.StepExec:
		remedy := ""
		if errno == unix.ENOENT {
			remedy = "for a script, check that its interpreter exists"
		}
		return errcode.Fail(errcode.Internal, layer, remedy, "exec %s: %s", p.path, what)
	}
	if layerFault {
		return errcode.Fail(errcode.LayerUnavailable, stepLayer(se.Step), "", "%s", what)
	}
	return errcode.Fail(errcode.Internal, stepLayer(se.Step), "", "%s", what)
}
