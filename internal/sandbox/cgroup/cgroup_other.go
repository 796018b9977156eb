//go:build !linux

package cgroup

import (
	"os"
	"time"

	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
)

// CPUPeriodMicros is the CPU quota period (100 ms).
const CPUPeriodMicros = 100000

// DetectOptions say where to look for cgroups (no effect on this platform).
type DetectOptions struct {
	Root, ProcSelfCgroup, MountInfo, Prefix string
}

// Manager reports cgroups unavailable on this platform.
type Manager struct{}

// Detect returns a Manager of version "none": cgroups are Linux only.
func Detect(DetectOptions) (*Manager, error) { return &Manager{}, nil }

// Support reports nothing enforceable, with the reason.
func (m *Manager) Support() Support {
	why := "cgroups are Linux only"
	return Support{Version: "none", Reasons: map[string]string{"memory": why, "pids": why, "cpu": why, "cpuusage": why, "kill": why}}
}

// Parents is empty.
func (m *Manager) Parents() []string { return nil }

// New fails: LAYER_UNAVAILABLE.
func (m *Manager) New(string, Limits) (*Group, error) {
	return nil, errcode.Fail(errcode.LayerUnavailable, layers.ResourceLimits, "run the server on Linux", "cgroups are Linux only")
}

// StartWatchdog does nothing: there is no group to watch.
func (m *Manager) StartWatchdog() error { return nil }

// WatchdogPid is 0.
func (m *Manager) WatchdogPid() int { return 0 }

// Swept is empty.
func (m *Manager) Swept() []string { return nil }

// Prefix is empty.
func (m *Manager) Prefix() string { return "" }

// TreeHold reports that nothing holds a tree.
func (m *Manager) TreeHold() (string, bool) { return "cgroups are Linux only", false }

// Close does nothing.
func (m *Manager) Close() error { return nil }

// Group is never created on this platform.
type Group struct{}

func unavailable() error {
	return errcode.Fail(errcode.LayerUnavailable, layers.ResourceLimits, "run the server on Linux", "cgroups are Linux only")
}

// Join fails.
func (g *Group) Join(int) error { return unavailable() }

// ProcsFiles reports that cgroups are unavailable.
func (g *Group) ProcsFiles() ([]*os.File, error) { return nil, unavailable() }

// SetLimits fails.
func (g *Group) SetLimits(Limits) error { return unavailable() }

// Procs is empty.
func (g *Group) Procs() ([]int, error) { return nil, unavailable() }

// Populated fails.
func (g *Group) Populated() (bool, error) { return false, unavailable() }

// Kill fails.
func (g *Group) Kill() error { return unavailable() }

// Stats fails.
func (g *Group) Stats() (Stats, error) { return Stats{}, unavailable() }

// OOMKills fails.
func (g *Group) OOMKills() (int64, error) { return 0, unavailable() }

// CPUUsage fails.
func (g *Group) CPUUsage() (time.Duration, error) { return 0, unavailable() }

// Remove does nothing.
func (g *Group) Remove() error { return nil }
