// Package cgrouptest helps leak checks tell a launcher's pooled cgroup
// (internal/sandbox/cgroups_pool.go: made ahead, empty, never used; it
// may carry the configuration's default limits) from a launch's group
// left behind.
package cgrouptest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PooledFresh reports whether the cgroup directory d looks like a pooled
// fresh launch group: named as a launch's group (p-L-N), no process in it,
// and no process ever in it (every usage counter its hierarchy keeps is
// zero: pids.peak, memory.max_usage_in_bytes or memory.peak, cpu.stat's
// usage_usec). A leaked launch group had a process: its counters say so
// in every hierarchy that keeps one (a v1 cpu hierarchy without cpuacct
// keeps none, and there a leak is told by the group's other hierarchies).
func PooledFresh(d string) bool {
	if !strings.HasPrefix(filepath.Base(d), "p-") {
		return false
	}
	if b, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err != nil || len(bytes.TrimSpace(b)) > 0 {
		return false
	}
	for _, f := range []string{"pids.peak", "memory.max_usage_in_bytes", "memory.peak", "cpuacct.usage"} {
		if b, err := os.ReadFile(filepath.Join(d, f)); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil || n != 0 {
				return false
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(d, "cpu.stat")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, " "); ok && k == "usage_usec" && strings.TrimSpace(v) != "0" {
				return false
			}
		}
	}
	return true
}
