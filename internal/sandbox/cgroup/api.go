// Package cgroup gives each launch its own control group under the
// server's own, with the kernel enforcing its memory, pids and CPU limits,
// and kills, accounts and removes it as one unit.
//
// It works with cgroup v2 (when the memory, pids and cpu controllers are
// delegated to the server's cgroup) and with cgroup v1 (memory, pids,
// cpu/cpuacct hierarchies), using a v2 hierarchy without controllers, when
// one is mounted, for tracking and cgroup.kill (the hybrid layout many hosts,
// CI runners and containers have). The choice is made once, by Detect.
//
// Guarantees: a Group's limits are written before any process joins it (New
// returns only a fully limited group, or an error naming the limit and
// leaves nothing behind); Kill leaves no process of the group alive
// (cgroup.kill, or freeze + SIGKILL + thaw on v1) or says it could not;
// Remove removes every directory the Group created; Close removes every
// group and parent the Manager created. It writes to no cgroup it did not
// create, with two exceptions: on cgroup v2, to enable controllers for its
// children it may write the server's own group's cgroup.subtree_control and
// move the server (itself only) into a leaf <own>/<prefix>-server, which
// Close undoes (see Detect); and Detect kills and removes, next to its own
// parent group, the groups of servers that are gone (named after their pid
// and start time: a live server's are never touched; see Swept).
//
// Nothing outlives the server: StartWatchdog starts a process that, when
// the server dies by any means (SIGKILL included), kills every process in
// the server's groups — grandchildren that called setsid or double-forked
// included — and removes the groups (see watchdog_linux.go).
//
// A group over its memory limit is killed as one: v2 sets memory.oom.group;
// on v1 the group's OOM killer is held off and the group kills itself at
// the kernel's OOM event (oomhold_linux.go), counted in OOMKills.
//
// Not covered: pids.max counts threads and is not checked when a process joins, only when
// it forks or creates a thread afterwards (see SetPids); the CPU limit is a
// quota per 100 ms period, not a CPU-time budget.
package cgroup

import "time"

// Limits are what the kernel enforces on a group. Zero = no limit.
type Limits struct {
	MemoryBytes int64   // memory.max / memory.limit_in_bytes (OOM kill)
	Pids        int64   // pids.max (processes and threads)
	CPUPercent  float64 // share of one core: cpu.max / cpu.cfs_quota_us over a 100 ms period
}

// Support says which limits and operations this host enforces, with the
// reason for each that it does not.
type Support struct {
	Version string // "v2", "v1", "hybrid" (v1 controllers + v2 tracking), "none"
	Memory  bool
	Pids    bool
	CPU     bool
	// CPUUsage is true when a group's CPU time can be read (tree-wide
	// maxCpuTime accounting).
	CPUUsage bool
	// Kill is true when a whole group can be killed race-free
	// (cgroup.kill, or the v1 freezer).
	Kill bool
	// Reasons explains each false field, keyed by field name in lower case
	// ("memory", "pids", "cpu", "cpuusage", "kill").
	Reasons map[string]string
}

// Stats are a group's accounting figures.
type Stats struct {
	MemoryBytes int64         // current usage
	CPUUsage    time.Duration // total CPU time of every process that ran in it
	Pids        int64         // current tasks (threads)
	OOMKills    int64         // processes the kernel killed for the memory limit
}
