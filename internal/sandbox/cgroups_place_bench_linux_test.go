//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// BenchmarkPlaceCgroup times a launch's cgroup step for a child that is
// not a warm stage (a child the zygote forked, a cold stage), the two ways
// interleaved in one run: "new-median-ns" makes the group on the path
// (newGroup, "newgroup-median-ns": a directory per hierarchy and the limit
// writes; then the move, "join-median-ns"); "pooled-median-ns" is place
// taking a group from the pool of fresh groups (cgroups_pool.go: made
// ahead of time with the same limits; only the move is left). The child is a
// single-threaded process (sleep) started and ended outside the timing;
// the limits are the default profile's.
func BenchmarkPlaceCgroup(b *testing.B) {
	m := benchCgroups(b)
	plain := newLaunchCgroups(m)
	if !plain.enabled() {
		b.Skip("no usable cgroup hierarchy")
	}
	lim := config.ResourceLimits{MaxMemoryMB: 1024, MaxProcesses: 10, MaxCpuPercent: 80}
	pooled := newLaunchCgroups(m)
	quit := make(chan struct{})
	pooled.startPool(quit, lim)
	defer pooled.stopPool()
	defer close(quit)

	cl := cgroupLimits(m.Support(), lim)
	child := func() *exec.Cmd {
		cmd := exec.Command("sleep", "100")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // the previous group's removal settles
		return cmd
	}
	done := func(cmd *exec.Cmd, g *cgroup.Group) {
		dropGroup(g)
		cmd.Process.Kill()
		cmd.Wait()
	}
	var newAll, newGroup, join, pool samples
	viaNew := func() {
		cmd := child()
		t0 := time.Now()
		g, err := plain.newGroup("p", cl)
		t1 := time.Now()
		if err == nil {
			err = g.Join(cmd.Process.Pid)
		}
		t2 := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		newAll, newGroup, join = append(newAll, t2.Sub(t0)), append(newGroup, t1.Sub(t0)), append(join, t2.Sub(t1))
		done(cmd, g)
	}
	viaPool := func() {
		for deadline := time.Now().Add(time.Second); len(pooled.pool.pooled()) == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("the pool of groups was not refilled")
			}
		}
		cmd := child()
		var g *cgroup.Group
		var err error
		pool.time(func() { g, err = pooled.place(cmd.Process.Pid, nil, lim) })
		if err != nil {
			b.Fatal(err)
		}
		done(cmd, g)
	}
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			viaNew()
			viaPool()
		} else {
			viaPool()
			viaNew()
		}
	}
	b.ReportMetric(newAll.median(), "new-median-ns")
	b.ReportMetric(newGroup.median(), "newgroup-median-ns")
	b.ReportMetric(join.median(), "join-median-ns")
	b.ReportMetric(pool.median(), "pooled-median-ns")
	b.ReportMetric(pool.median()/newAll.median(), "pooled/new")
}

// BenchmarkForkedLaunchCgroupPool times whole launches of /bin/true forked
// by the zygote with the default profile's cgroup limits (Start, Release,
// the exit), with the pool of fresh groups ("pooled-median-ns") and
// without ("new-median-ns": the group made on the path), interleaved in
// one run with an untimed 40 ms pause before each launch (bench/run.sh's
// rhythm: the pool's refill is not in the next launch). Each launch's
// group is removed after its exit, untimed, as the supervisor does.
func BenchmarkForkedLaunchCgroupPool(b *testing.B) {
	m := benchCgroups(b)
	if !newLaunchCgroups(m).enabled() {
		b.Skip("no usable cgroup hierarchy")
	}
	spec := benchSpec(b)
	spec.Limits.MaxMemoryMB, spec.Limits.MaxProcesses, spec.Limits.MaxCpuPercent = 1024, 10, 80
	pooled := NewLauncher(LauncherOptions{Cgroups: m, Stage: StageZygote, GroupLimits: spec.Limits})
	defer pooled.Close()
	plain := NewLauncher(LauncherOptions{Cgroups: m, Stage: StageZygote})
	defer plain.Close()
	plain.cgroups.pool = nil // no pool for its launches (its goroutine keeps its groups until Close)
	var withPool, without samples
	launch := func(l *Launcher, s *samples) {
		time.Sleep(40 * time.Millisecond)
		var p *Process
		s.time(func() {
			var err error
			if p, err = l.Start(spec, Stdio{}); err != nil {
				b.Fatal(err)
			}
			if err := p.Release(); err != nil {
				b.Fatal(err)
			}
			if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
				b.Fatalf("exit %v", st)
			}
		})
		if !p.forked {
			b.Fatal("the launch was not forked by the zygote")
		}
		p.Cgroup().Remove()
	}
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			launch(pooled, &withPool)
			launch(plain, &without)
		} else {
			launch(plain, &without)
			launch(pooled, &withPool)
		}
	}
	b.ReportMetric(without.median(), "new-median-ns")
	b.ReportMetric(withPool.median(), "pooled-median-ns")
	b.ReportMetric(withPool.median()/without.median(), "pooled/new")
}

// benchCgroups is the cgroup manager of a benchmark, closed when it ends;
// it skips without root or cgroups.
func benchCgroups(b *testing.B) *cgroup.Manager {
	if os.Geteuid() != 0 {
		b.Skip("needs root: cgroups")
	}
	m, err := cgroup.Detect(cgroup.DetectOptions{Prefix: fmt.Sprintf("mcp-process-sbbench-%d", os.Getpid())})
	if err != nil {
		b.Skipf("no cgroups here: %v", err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}
