//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/policy"
)

// Review (session 11, second review) of the zygote's plan arena and its
// child's join after the mount steps.

// A launch the zygote plans up to its executable scope and then hands back
// (an executable beneath the private /tmp: errFallback, the launch runs on
// a stage) leaves nothing of itself in the zygote's memory: its argument
// and environment strings were copied into the plan's buffers (vectors)
// before the fallback, and the plan is never forked, so never wiped by
// serveLaunch or reclaimVM: the planner wipes them itself.
func TestZygoteFallbackLeavesNothingInMemory(t *testing.T) {
	needZygote(t)
	needRoot(t) // reads the zygote's memory
	spec := specFor(t, "true")
	iso := fallbackIsolation(t, spec)
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Isolation: iso})
	defer l.Close()
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	argSecret, envSecret := "fallback-arg-"+tag, "fallback-env-"+tag
	spec.Argv = append(spec.Argv, argSecret)
	spec.Env = append(spec.Env, "ZYGOTE_FALLBACK_SECRET="+envSecret)
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if p.forked {
		p.Abort()
		t.Fatal("the zygote planned a launch whose executable lies beneath the private /tmp")
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("target: %v", st)
	}
	z := l.zygotePid()
	if z == 0 {
		t.Fatal("no zygote running")
	}
	waitZygoteAwaitsLaunch(t, z)
	for _, s := range []string{argSecret, envSecret} {
		found, err := memContains(z, []byte(s))
		if err != nil {
			t.Fatalf("cannot read the zygote's memory: %v", err)
		}
		if found {
			t.Errorf("%q of the launch the zygote handed back is in the zygote's memory", s)
		}
	}
}

// A launch whose clone3 the kernel refuses for now (EAGAIN: the zygote's
// pids cgroup is full; the zygote keeps sharing its memory with the next
// children) fails with the fork's error and leaves nothing of itself in
// the zygote's memory (no child runs its plan: it is wiped at once, not
// kept for reclaimVM). Needs the pids controller (v1 here, or v2).
func TestZygoteRefusedCloneLeavesNothingInMemory(t *testing.T) {
	needZygote(t)
	needRoot(t)
	pids := ""
	for _, d := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(d + "/cgroup.procs"); err != nil {
			continue
		}
		if d != "/sys/fs/cgroup/pids" {
			if b, _ := os.ReadFile(d + "/cgroup.controllers"); !strings.Contains(string(b), "pids") {
				continue
			}
		}
		pids = d
		break
	}
	if pids == "" {
		t.Skip("no pids controller")
	}
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1})
	defer l.Close()
	if out, st := run(t, l, specFor(t, "true")); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("first launch: %q %v", out, st)
	}
	z := l.zygotePid()
	if z == 0 {
		t.Fatal("no zygote running")
	}
	waitZygoteAwaitsLaunch(t, z)
	g := fmt.Sprintf("%s/mcp-review11b-%d", pids, os.Getpid())
	if err := os.Mkdir(g, 0o755); err != nil {
		t.Skip(err)
	}
	home := cgroupLine(t, z, pids)
	defer func() {
		os.WriteFile(home+"/cgroup.procs", []byte(strconv.Itoa(z)), 0)
		os.Remove(g)
	}()
	if err := os.WriteFile(g+"/cgroup.procs", []byte(strconv.Itoa(z)), 0); err != nil {
		t.Skip(err)
	}
	cur, err := os.ReadFile(g + "/pids.current")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g+"/pids.max", []byte(strings.TrimSpace(string(cur))), 0); err != nil {
		t.Fatal(err)
	}
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	spec := specFor(t, "true", "refused-arg-"+tag)
	spec.Env = append(spec.Env, "ZYGOTE_REFUSED_SECRET=refused-env-"+tag)
	p, err := l.Start(spec, Stdio{})
	if err == nil {
		p.Abort()
		t.Skipf("the launch was forked (forked %v): the pids limit did not hold", p.forked)
	}
	if !strings.Contains(err.Error(), "fork the launch's child") {
		t.Fatalf("err %v, want the zygote's refused fork", err)
	}
	if l.zygotePid() != z {
		t.Fatalf("the zygote %d is gone (%d now)", z, l.zygotePid())
	}
	for _, s := range []string{"refused-arg-" + tag, "refused-env-" + tag} {
		found, err := memContains(z, []byte(s))
		if err != nil {
			t.Fatalf("cannot read the zygote's memory: %v", err)
		}
		if found {
			t.Errorf("%q of the launch whose clone was refused is in the zygote's memory", s)
		}
	}
}

// cgroupLine is the directory of pid's group in the hierarchy mounted at
// mnt (v1: the line naming its controller; v2: the 0:: line).
func cgroupLine(t *testing.T, pid int, mnt string) string {
	t.Helper()
	for _, l := range strings.Split(cgroupOf(t, pid), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		if (strings.HasSuffix(mnt, "/pids") && strings.Contains(","+f[1]+",", ",pids,")) || (!strings.HasSuffix(mnt, "/pids") && f[0] == "0") {
			return mnt + f[2]
		}
	}
	t.Fatalf("no group of %d under %s", pid, mnt)
	return ""
}

// A server that closes the zygote's socket while a target it forked runs
// on: the zygote ends by itself, at once, not when the target ends.
func TestZygoteEndsWhenItsSocketClosesWhileItWaits(t *testing.T) {
	needZygote(t)
	needRoot(t)
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1})
	defer l.Close()
	a, err := l.Start(specFor(t, "sleep", "5"), Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Abort()
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	l.zmu.Lock()
	zp := l.zyg
	if zp == nil {
		l.zmu.Unlock()
		t.Fatal("no zygote")
	}
	z := zp.proc.Pid
	zp.sock.Close()
	l.zmu.Unlock()
	start := time.Now()
	for zygoteState(z) != "Z" && zygoteState(z) != "" {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the zygote %d is still %s 2 s after its socket closed", z, zygoteState(z))
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("the zygote ended %v after its socket closed", time.Since(start))
	if zygoteState(a.Pid) == "" {
		t.Fatal("the target ended too soon for this test")
	}
}

// A launch's paths are in its plan's failure reports (the chunk encodeErr
// fills: "open DIR (no symbolic links allowed)", "chdir DIR") and in the
// reports' Detail strings the planner builds: once the child has exec'd
// and the next launch reclaimed its plan, no copy of its working
// directory stays in the zygote's memory.
func TestZygoteLaunchPathsLeaveNothingInMemory(t *testing.T) {
	needZygote(t)
	needRoot(t)
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1})
	defer l.Close()
	tag := "launch-dir-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	dir := t.TempDir() + "/" + tag
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := specFor(t, "true")
	spec.Dir = dir
	if out, st := run(t, l, spec); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("first launch: %q %v", out, st)
	}
	if out, st := run(t, l, specFor(t, "true")); st.ExitCode == nil || *st.ExitCode != 0 { // reclaims the first plan
		t.Fatalf("second launch: %q %v", out, st)
	}
	z := l.zygotePid()
	waitZygoteAwaitsLaunch(t, z)
	found, err := memContains(z, []byte(tag))
	if err != nil {
		t.Fatalf("cannot read the zygote's memory: %v", err)
	}
	if found {
		t.Errorf("the first launch's working directory %s is in the zygote's memory", dir)
	}
}

// The private /tmp is mounted before the zygote's child joins its group
// (planJoin follows the mount steps), but a tmpfs's pages are charged to
// the writer's memory cgroup when written: what the target writes into it
// counts against the launch's maxMemoryMB, as through a stage. A target
// that writes 8 MiB there is seen in its group's usage; one that writes
// past its limit does not get to finish.
func TestZygotePrivateTmpCountsAgainstTheLaunch(t *testing.T) {
	needZygote(t)
	m := cgroupTestManager(t)
	if !m.Support().Memory {
		t.Skip("no memory controller")
	}
	work := hostDir(t)
	iso, err := IsolationFor(config.BuiltinDefault(work))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Isolation: iso, Cgroups: m})
	defer l.Close()
	write := func(mb int) *policy.Spec {
		s := py(t, fmt.Sprintf(`
import sys, time
with open('/tmp/fill', 'wb') as f:
    for i in range(%d):
        f.write(b'x' * (1 << 20))
print('written', flush=True)
time.sleep(3)
`, mb))
		s.Dir, s.Limits.MaxMemoryMB = work, 32
		return s
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	p, err := l.Start(write(8), Stdio{Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if !p.forked {
		t.Fatal("not forked by the zygote")
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 16)
	if n, _ := r.Read(line); !strings.HasPrefix(string(line[:n]), "written") {
		t.Fatalf("the target printed %q", line[:n])
	}
	st, err := p.Cgroup().Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.MemoryBytes < 8<<20 {
		t.Fatalf("the launch's group uses %d bytes with 8 MiB written to its private /tmp", st.MemoryBytes)
	}
	t.Logf("group usage with 8 MiB in /tmp: %d", st.MemoryBytes)
	p.Abort()

	out, es := runAll(t, l, write(64))
	if strings.Contains(out, "written") || (es.ExitCode != nil && *es.ExitCode == 0) {
		t.Fatalf("64 MiB written into the private /tmp under a 32 MiB limit: %q %v", out, es)
	}
	t.Logf("64 MiB: %v", es)
}

// Nothing before the join forks (the child is alone in its group when it
// joins it), and the join is a move, which pids.max does not refuse: a
// launch with maxProcesses 1 runs, and its target cannot fork.
func TestZygoteMaxProcessesOneRunsAndCannotFork(t *testing.T) {
	needZygote(t)
	m := cgroupTestManager(t)
	if !m.Support().Pids {
		t.Skip("no pids controller")
	}
	spec := py(t, `
import os
try:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print('forked')
except OSError as e:
    print('refused', e.errno)
`)
	spec.Limits.MaxProcesses = 1
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Cgroups: m})
	defer l.Close()
	out, st := runAll(t, l, spec)
	exitOK(t, out, st)
	if l.zygoteServed() != 1 {
		t.Fatalf("the zygote served %d launches, want 1", l.zygoteServed())
	}
	if !strings.HasPrefix(out, "refused 11") {
		t.Fatalf("with maxProcesses 1 the target printed %q, want its fork refused (EAGAIN)", out)
	}
}
