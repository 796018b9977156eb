//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// cgroupTestManager is a cgroup manager of its own for a test, or a skip.
func cgroupTestManager(t *testing.T) *cgroup.Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups")
	}
	m, err := cgroup.Detect(cgroup.DetectOptions{Prefix: fmt.Sprintf("mcp-process-sbtest-%d", os.Getpid())})
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if !newLaunchCgroups(m).enabled() {
		t.Skip("no usable cgroup hierarchy")
	}
	return m
}

// cgroupOf returns /proc/PID/cgroup.
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// groupDirs lists the groups under m's parents.
func groupDirs(m *cgroup.Manager) []string {
	var names []string
	for _, p := range m.Parents() {
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if e.IsDir() {
				names = append(names, p+"/"+e.Name())
			}
		}
	}
	return names
}

// A warm stage killed just as a launch takes it: the launch runs on another
// stage, and the cgroup prepared for the dead one is removed, not leaked.
// (Moved from the supervisor with the cgroup step.)
func TestStageKilledWhileTakenLeavesNoCgroup(t *testing.T) {
	m := cgroupTestManager(t)
	l := NewLauncher(LauncherOptions{Cgroups: m})
	defer l.Close()
	spec := specFor(t, "true")
	spec.Limits.MaxMemoryMB = 64 // limits written through the prepared group

	// A warm stage waits in its launch's cgroup; its keeper (amd64) does
	// not: it is never counted in the launch's limits.
	idlePids(t, l)
	time.Sleep(50 * time.Millisecond) // each in its prepared group
	if runtime.GOARCH == "amd64" {
		var stages, keepers []int
		// A stage starts its keeper first thing, but under load the
		// newest stage may not have done so yet: wait for one each.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			stages, keepers = stageChildren(t)
			if len(keepers) == len(stages) || time.Now().After(deadline) {
				break
			}
		}
		if len(keepers) != len(stages) {
			t.Fatalf("keepers %v for stages %v, want one each", keepers, stages)
		}
		for _, k := range keepers {
			for _, st := range stages {
				if cgroupOf(t, k) == cgroupOf(t, st) {
					t.Fatalf("keeper %d is in stage %d's cgroup:\n%s", k, st, cgroupOf(t, k))
				}
			}
			if cgroupOf(t, k) != cgroupOf(t, os.Getpid()) {
				t.Fatalf("keeper %d is not in the server's cgroup:\n%s\nserver:\n%s", k, cgroupOf(t, k), cgroupOf(t, os.Getpid()))
			}
		}
	}
	for i := 0; i < 10; i++ {
		pids := idlePids(t, l)
		time.Sleep(20 * time.Millisecond) // each in its prepared group
		if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p, err := l.Start(spec, Stdio{})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if p.Cgroup() == nil {
			t.Fatalf("round %d: no cgroup for the launch", i)
		}
		if err := p.Release(); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
			t.Fatalf("round %d: %v", i, st)
		}
		p.Cgroup().Remove() // the caller's, after a successful Release
	}
	// Once every launch is over and the pools are full again, only the warm
	// stages' groups and the pooled fresh groups (cgroups_pool.go) remain:
	// one per stage or pooled group in each hierarchy.
	deadline := time.Now().Add(10 * time.Second)
	for {
		idlePids(t, l)
		pooledGroups(t, l)
		g := groupDirs(m)
		if len(g) <= (2+groupPoolSize)*len(m.Parents()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d groups left for a pool of 2 stages and %d fresh groups in %d hierarchies: %v", len(g), groupPoolSize, len(m.Parents()), g)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The launch's limits are in place while the stage waits at its gate, cold
// and warm; Abort removes the group.
func TestLaunchCgroupLimitsBeforeRelease(t *testing.T) {
	m := cgroupTestManager(t)
	if !m.Support().Pids {
		t.Skip("no pids controller: " + m.Support().Reasons["pids"])
	}
	for _, pool := range []int{-1, 1} {
		l := NewLauncher(LauncherOptions{Cgroups: m, PoolSize: pool})
		if pool > 0 {
			idlePids(t, l)
		}
		spec := specFor(t, "true")
		spec.Limits.MaxProcesses = 7
		p, err := l.Start(spec, Stdio{})
		if err != nil {
			t.Fatalf("pool %d: %v", pool, err)
		}
		g := p.Cgroup()
		if g == nil {
			t.Fatalf("pool %d: no cgroup", pool)
		}
		if !inGroup(t, g, p.Pid) {
			t.Fatalf("pool %d: stage %d is not in its group %v", pool, p.Pid, g.Paths())
		}
		found := false
		for _, d := range g.Paths() {
			if b, err := os.ReadFile(d + "/pids.max"); err == nil {
				found = true
				if string(b) != "7\n" {
					t.Fatalf("pool %d: pids.max = %q before Release, want 7", pool, b)
				}
			}
		}
		if !found {
			t.Fatalf("pool %d: no pids.max in %v", pool, g.Paths())
		}
		p.Abort()
		for _, d := range g.Paths() {
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				t.Fatalf("pool %d: %s left after Abort (%v)", pool, d, err)
			}
		}
		l.Close()
	}
}

func inGroup(t *testing.T, g *cgroup.Group, pid int) bool {
	t.Helper()
	procs, err := g.Procs()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p == pid {
			return true
		}
	}
	return false
}
