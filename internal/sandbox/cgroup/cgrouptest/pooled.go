// Package cgrouptest helps leak checks tell a launcher's pooled cgroup
// (internal/sandbox/cgroups_pool.go: made ahead, empty, no limit) from a
// launch's group left behind.
package cgrouptest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PooledFresh reports whether the cgroup directory d looks like a pooled
// fresh launch group: named as a launch's group (p-L-N), no process in it
// and no limit written. A leaked launch group of a launch that had limits
// is never taken for one.
func PooledFresh(d string) bool {
	if !strings.HasPrefix(filepath.Base(d), "p-") {
		return false
	}
	if b, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err != nil || len(bytes.TrimSpace(b)) > 0 {
		return false
	}
	for f, unlimited := range map[string]func(string) bool{
		"memory.max": func(v string) bool { return v == "max" },
		// v1's "no limit" is the largest page multiple (page size dependent).
		"memory.limit_in_bytes": func(v string) bool { n, err := strconv.ParseInt(v, 10, 64); return err == nil && n >= 1<<62 },
		"pids.max":              func(v string) bool { return v == "max" },
		"cpu.max":               func(v string) bool { return strings.HasPrefix(v, "max ") },
		"cpu.cfs_quota_us":      func(v string) bool { return v == "-1" },
	} {
		if b, err := os.ReadFile(filepath.Join(d, f)); err == nil && !unlimited(strings.TrimSpace(string(b))) {
			return false
		}
	}
	return true
}
