//go:build linux

package supervisor

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// idleStages lists this process's live init stages (children that have
// not received a launch yet are the only stages whose command line is
// still the stage's) and their keepers (which share a stage's memory, so
// its command line, and hold no descriptor).
func idleStages(t *testing.T) (stages, keepers []int) {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if f[0] == "Z" || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		if cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); strings.Contains(string(cmd), stage.Arg) {
			if fds, _ := os.ReadDir("/proc/" + e.Name() + "/fd"); len(fds) == 0 {
				keepers = append(keepers, pid)
			} else {
				stages = append(stages, pid)
			}
		}
	}
	return stages, keepers
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

// A warm stage killed just as a launch takes it: the launch runs on another
// stage, and the cgroup prepared for the dead one is removed, not leaked.
func TestStageKilledWhileTakenLeavesNoCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups")
	}
	m, err := cgroup.Detect(cgroup.DetectOptions{Prefix: fmt.Sprintf("mcp-process-suptest-%d", os.Getpid())})
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	defer m.Close()
	if !usesCgroups(m) {
		t.Skip("no usable cgroup hierarchy")
	}
	cfg := baseConfig()
	cfg.DefaultResourceLimits.MaxMemoryMB = 64 // limits written through the prepared group
	s, _ := newSup(t, cfg, func(o *Options) { o.Cgroups = m })
	groups := func() []string {
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
	waitPool := func() []int {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if pids, _ := idleStages(t); len(pids) >= 2 {
				return pids
			}
			if time.Now().After(deadline) {
				pids, _ := idleStages(t)
				t.Fatalf("the pool never filled: stages %v", pids)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	spec := specFor(t, "true")

	// A warm stage waits in its launch's cgroup; its keeper (amd64) does
	// not: it is never counted in the launch's limits.
	waitPool()
	time.Sleep(50 * time.Millisecond) // each in its prepared group
	if runtime.GOARCH == "amd64" {
		var stages []int
		// A stage starts its keeper first thing, but under load the
		// newest stage may not have done so yet: wait for one each.
		var keepers []int
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			stages, keepers = idleStages(t)
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
		pids := waitPool()
		time.Sleep(20 * time.Millisecond) // each in its prepared group
		if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		res, err := s.Run(context.Background(), "a", spec, StartOptions{}, RunOptions{WaitTimeout: 10 * time.Second})
		if err != nil || res.ExitCode == nil || *res.ExitCode != 0 {
			t.Fatalf("round %d: %+v, %v", i, res, err)
		}
	}
	// Once every launch is over and the pool is full again, only the warm
	// stages' groups remain: one per stage in each hierarchy.
	deadline := time.Now().Add(10 * time.Second)
	for {
		waitPool()
		g := groups()
		if len(g) <= 2*len(m.Parents()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d groups left for a pool of 2 stages in %d hierarchies: %v", len(g), len(m.Parents()), g)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
