//go:build linux

package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var liveSeq atomic.Int64

// liveManager detects this host's cgroups with a prefix unique to the test
// and checks at cleanup that Close removed every parent group.
func liveManager(t testing.TB) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live cgroup tests need root (cgroup directories are not writable)")
	}
	m, err := Detect(DetectOptions{Prefix: fmt.Sprintf("mcp-process-test-%d-%d", os.Getpid(), liveSeq.Add(1))})
	if err != nil {
		t.Fatalf("Detect: %v", err)
	}
	if m.Support().Version == "none" {
		t.Skipf("no writable cgroups here: %v", m.Support().Reasons)
	}
	parents := m.Parents()
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, p := range parents {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("parent group %s still exists after Close (stat: %v)", p, err)
			}
		}
	})
	return m
}

func requireSupport(t *testing.T, m *Manager, what string, ok bool) {
	t.Helper()
	if !ok {
		t.Skipf("%s not supported here: %v", what, m.Support().Reasons)
	}
}

// gatedChild is a child that blocks (in sh "read") until release, so that it
// is in the group before it runs the real command.
type gatedChild struct {
	cmd   *exec.Cmd
	gate  io.WriteCloser
	out   *bufio.Reader
	done  chan error
	state *os.ProcessState
}

func startGated(t *testing.T, script string) *gatedChild {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read x; "+script)
	gate, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &gatedChild{cmd: cmd, gate: gate, out: bufio.NewReader(out), done: make(chan error, 1)}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		c.wait(t, 10*time.Second)
	})
	return c
}

func (c *gatedChild) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(c.gate, "go\n"); err != nil {
		t.Fatalf("releasing the child: %v", err)
	}
	c.gate.Close()
}

// wait reaps the child (once) and returns its state.
func (c *gatedChild) wait(t *testing.T, d time.Duration) *os.ProcessState {
	t.Helper()
	if c.state != nil {
		return c.state
	}
	go func() { c.done <- c.cmd.Wait() }()
	select {
	case <-c.done:
		c.state = c.cmd.ProcessState
	case <-time.After(d):
		t.Fatalf("child %d did not exit within %s", c.cmd.Process.Pid, d)
	}
	return c.state
}

// pollUntil polls cond until it is true or the deadline passes.
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive says whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func newGroup(t *testing.T, m *Manager, l Limits) *Group {
	t.Helper()
	g, err := m.New(fmt.Sprintf("launch-%d", liveSeq.Add(1)), l)
	if err != nil {
		t.Fatalf("New(%+v): %v", l, err)
	}
	t.Cleanup(func() {
		_ = g.Kill()
		if err := g.Remove(); err != nil {
			t.Errorf("Remove: %v", err)
		}
	})
	return g
}

func TestLiveDetectPicksHybridHere(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err != nil {
		t.Skip("not the hybrid host layout (no /sys/fs/cgroup/unified)")
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err != nil {
		t.Skip("not the hybrid host layout (no v1 memory hierarchy)")
	}
	m := liveManager(t)
	s := m.Support()
	if s.Version != "hybrid" {
		t.Fatalf("Version = %q, want hybrid (reasons %v)", s.Version, s.Reasons)
	}
	if !s.Memory || !s.Pids || !s.CPU || !s.CPUUsage || !s.Kill {
		t.Fatalf("Support = %+v, want everything on this host", s)
	}
	for _, p := range m.Parents() {
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			t.Fatalf("parent %s not created: %v", p, err)
		}
	}
}

func TestLiveMemoryLimitOOMKills(t *testing.T) {
	m := liveManager(t)
	requireSupport(t, m, "memory", m.Support().Memory)
	g := newGroup(t, m, Limits{MemoryBytes: 64 << 20})
	c := startGated(t, `exec /usr/bin/python3 -c '
b = []
while True:
    b.append(bytearray(10 << 20))
'`)
	if err := g.Join(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	c.release(t)
	st := c.wait(t, 30*time.Second)
	ws := st.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL (OOM)", st)
	}
	n, err := g.OOMKills()
	t.Logf("OOM kills %d", n)
	if err != nil || n < 1 {
		t.Fatalf("OOMKills = %d, %v; want >= 1", n, err)
	}
	s, err := g.Stats()
	if err != nil || s.OOMKills != n {
		t.Fatalf("Stats = %+v, %v; want OOMKills %d", s, err, n)
	}
}

func TestLivePidsLimit(t *testing.T) {
	m := liveManager(t)
	requireSupport(t, m, "pids", m.Support().Pids)
	g := newGroup(t, m, Limits{Pids: 16})
	c := startGated(t, `exec /usr/bin/python3 -c '
import os, sys, time
n = 0
for i in range(100):
    try:
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
        n += 1
    except OSError:
        pass
print(n, flush=True)
time.sleep(300)
'`)
	if err := g.Join(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	c.release(t)
	line, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the fork count: %v", err)
	}
	forked, _ := strconv.Atoi(strings.TrimSpace(line))
	if forked < 1 || forked > 15 {
		t.Fatalf("the child forked %d times, want 1..15 under pids.max 16", forked)
	}
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("forked %d, pids.current %d", forked, s.Pids)
	if s.Pids < 2 || s.Pids > 16 {
		t.Fatalf("pids.current = %d, want 2..16", s.Pids)
	}
	if err := g.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	procs, err := g.Procs()
	if err != nil || len(procs) != 0 {
		t.Fatalf("after Kill Procs = %v, %v; want none", procs, err)
	}
	if pop, err := g.Populated(); err != nil || pop {
		t.Fatalf("after Kill Populated = %v, %v", pop, err)
	}
}

func TestLiveCPUQuota(t *testing.T) {
	t.Run("host layout", func(t *testing.T) { testCPUQuota(t, liveManager(t)) })
	t.Run("v1 cpuacct", func(t *testing.T) {
		m := liveManagerWithout(t, "cgroup2")
		if m.acct == nil {
			t.Skip("no v1 cpuacct here")
		}
		testCPUQuota(t, m)
	})
}

func testCPUQuota(t *testing.T, m *Manager) {
	requireSupport(t, m, "cpu", m.Support().CPU)
	requireSupport(t, m, "cpuusage", m.Support().CPUUsage)
	g := newGroup(t, m, Limits{CPUPercent: 20})
	c := startGated(t, `exec /usr/bin/yes >/dev/null`)
	if err := g.Join(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	c.release(t)
	time.Sleep(2 * time.Second)
	used, err := g.CPUUsage()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CPU usage over ~2 s at 20%%: %v", used)
	if used < 200*time.Millisecond || used > 700*time.Millisecond {
		t.Fatalf("CPU usage over ~2 s at 20%% = %v, want 0.2s..0.7s", used)
	}
	if err := g.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
}

// liveManagerWithout detects this host's cgroups as if the mounts whose
// super options or fstype contain one of drop were not there (to exercise
// the v1 freezer and the SIGKILL loop live on a hybrid host).
func liveManagerWithout(t *testing.T, drop ...string) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live cgroup tests need root (cgroup directories are not writable)")
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		_, post, _ := strings.Cut(line, " - ")
		f := strings.Fields(post)
		skip := false
		for _, d := range drop {
			if len(f) >= 3 && (f[0] == d || slices.Contains(strings.Split(f[2], ","), d)) {
				skip = true
			}
		}
		if !skip {
			keep = append(keep, line)
		}
	}
	mi := t.TempDir() + "/mountinfo"
	if err := os.WriteFile(mi, []byte(strings.Join(keep, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Detect(DetectOptions{MountInfo: mi, Prefix: fmt.Sprintf("mcp-process-test-%d-%d", os.Getpid(), liveSeq.Add(1))})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parents()) == 0 {
		t.Skipf("no writable cgroups without %v: %v", drop, m.Support().Reasons)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

func TestLiveKillTreeWithSetsidGrandchild(t *testing.T) {
	for _, tc := range []struct {
		name string
		mgr  func(t *testing.T) *Manager
		mode killMode
	}{
		{"host layout", func(t *testing.T) *Manager { return liveManager(t) }, -1},
		{"v1 freezer", func(t *testing.T) *Manager { return liveManagerWithout(t, "cgroup2") }, killV1Freeze},
		{"v1 SIGKILL loop", func(t *testing.T) *Manager { return liveManagerWithout(t, "cgroup2", "freezer") }, killLoop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.mgr(t)
			if tc.mode >= 0 && m.kill != tc.mode {
				t.Skipf("kill mode %d here, want %d", m.kill, tc.mode)
			}
			testKillTree(t, m)
		})
	}
}

func testKillTree(t *testing.T, m *Manager) {
	g := newGroup(t, m, Limits{})
	// sh, a sleeping child, and a double-forked grandchild in its own
	// session (its parent subshell exits, so it is orphaned).
	c := startGated(t, `/usr/bin/sleep 300 & ( /usr/bin/setsid /usr/bin/sleep 301 & ) ; wait`)
	if err := g.Join(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	c.release(t)
	sid0, _ := unix.Getsid(c.cmd.Process.Pid)
	var procs []int
	// Wait for sh, sleep and the setsid'd sleep (once its subshell is gone).
	if !pollUntil(10*time.Second, func() bool {
		procs, _ = g.Procs()
		if len(procs) != 3 {
			return false
		}
		for _, p := range procs {
			if sid, err := unix.Getsid(p); err == nil && sid != sid0 {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the tree never had 3 processes, one in its own session: %v", procs)
	}
	if err := g.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if left, err := g.Procs(); err != nil || len(left) != 0 {
		t.Fatalf("after Kill Procs = %v, %v", left, err)
	}
	c.wait(t, 10*time.Second)
	for _, p := range procs {
		if !pollUntil(5*time.Second, func() bool { return !alive(p) }) {
			t.Errorf("process %d still alive after Kill", p)
		}
	}
}

func TestLiveRemoveLeavesNothing(t *testing.T) {
	m := liveManager(t)
	g, err := m.New("removeme", Limits{MemoryBytes: 32 << 20, Pids: 8, CPUPercent: 50})
	if err != nil {
		t.Fatal(err)
	}
	paths := g.Paths()
	if len(paths) == 0 {
		t.Fatal("group has no directories")
	}
	c := startGated(t, `exit 0`)
	if err := g.Join(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	c.release(t)
	c.wait(t, 10*time.Second)
	if err := g.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Remove (stat: %v)", p, err)
		}
	}
	if err := g.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if err := g.Join(os.Getpid()); err == nil {
		t.Fatal("Join on a removed group succeeded")
	}
}

func TestLiveHundredCyclesLeaveNothing(t *testing.T) {
	m := liveManager(t)
	s := m.Support()
	l := Limits{}
	if s.Memory {
		l.MemoryBytes = 64 << 20
	}
	if s.Pids {
		l.Pids = 32
	}
	if s.CPU {
		l.CPUPercent = 50
	}
	for i := range 100 {
		g, err := m.New("cycle-"+strconv.Itoa(i), l)
		if err != nil {
			t.Fatalf("cycle %d New: %v", i, err)
		}
		cmd := exec.Command("/bin/true")
		if s.Version == "v2" || s.Version == "hybrid" {
			// Placed at clone time in the v2 group; on hybrid the v1
			// hierarchies are joined after (the real init stage joins
			// itself before exec; /bin/true may be gone by then).
			fd, err := g.FD()
			if err != nil {
				t.Fatal(err)
			}
			cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
			err = cmd.Start()
			syscall.Close(fd)
			if err != nil {
				t.Fatalf("cycle %d start in cgroup: %v", i, err)
			}
		} else if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := g.Join(cmd.Process.Pid); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("cycle %d Join: %v", i, err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("cycle %d /bin/true: %v", i, err)
		}
		if err := g.Remove(); err != nil {
			t.Fatalf("cycle %d Remove: %v", i, err)
		}
	}
	for _, p := range m.Parents() {
		ents, err := os.ReadDir(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() {
				t.Errorf("left behind: %s/%s", p, e.Name())
			}
		}
	}
}

func TestLiveFDPlacesChildAtClone(t *testing.T) {
	m := liveManager(t)
	g := newGroup(t, m, Limits{})
	fd, err := g.FD()
	if m.Support().Version == "v1" {
		if err == nil {
			t.Fatal("FD on a v1-only host succeeded")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	err = cmd.Start()
	syscall.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	procs, err := g.Procs()
	if err != nil || len(procs) != 1 || procs[0] != cmd.Process.Pid {
		t.Fatalf("Procs = %v, %v; want [%d] without Join", procs, err, cmd.Process.Pid)
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("sleep ended with %v, want SIGKILL", cmd.ProcessState)
	}
}

func TestLiveLimitFilesWritten(t *testing.T) {
	m := liveManager(t)
	s := m.Support()
	requireSupport(t, m, "memory+pids+cpu", s.Memory && s.Pids && s.CPU)
	g := newGroup(t, m, Limits{MemoryBytes: 48 << 20, Pids: 7, CPUPercent: 0.5})
	read := func(dir, f string) string {
		b, err := os.ReadFile(dir + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if m.v2Limits {
		if got := read(g.mem, "memory.max"); got != strconv.Itoa(48<<20) {
			t.Errorf("memory.max = %s", got)
		}
		if got := read(g.cpu, "cpu.max"); got != "1000 100000" {
			t.Errorf("cpu.max = %s, want the 1000 floor", got)
		}
	} else {
		if got := read(g.mem, "memory.limit_in_bytes"); got != strconv.Itoa(48<<20) {
			t.Errorf("memory.limit_in_bytes = %s", got)
		}
		if _, err := os.Stat(g.mem + "/memory.memsw.limit_in_bytes"); err == nil {
			if got := read(g.mem, "memory.memsw.limit_in_bytes"); got != strconv.Itoa(48<<20) {
				t.Errorf("memory.memsw.limit_in_bytes = %s", got)
			}
		}
		if got := read(g.cpu, "cpu.cfs_quota_us"); got != "1000" {
			t.Errorf("cpu.cfs_quota_us = %s, want the 1000 floor", got)
		}
		if got := read(g.cpu, "cpu.cfs_period_us"); got != "100000" {
			t.Errorf("cpu.cfs_period_us = %s", got)
		}
	}
	if got := read(g.pids, "pids.max"); got != "7" {
		t.Errorf("pids.max = %s", got)
	}
}

// BenchmarkNewJoinRemove measures one launch's cgroup work: New with every
// supported limit, Join of a live process, and Remove (plus one extra Join
// that moves the process out so the group can be removed).
func BenchmarkNewJoinRemove(b *testing.B) {
	m := liveManager(b)
	s := m.Support()
	l := Limits{}
	if s.Memory {
		l.MemoryBytes = 256 << 20
	}
	if s.Pids {
		l.Pids = 64
	}
	if s.CPU {
		l.CPUPercent = 100
	}
	hold, err := m.New("bench-hold", l)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/sleep", "600")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = hold.Kill()
		_ = cmd.Wait()
		_ = hold.Remove()
	}()
	pid := cmd.Process.Pid
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		g, err := m.New("bench-"+strconv.Itoa(i), l)
		if err != nil {
			b.Fatal(err)
		}
		if err := g.Join(pid); err != nil {
			b.Fatal(err)
		}
		if err := hold.Join(pid); err != nil {
			b.Fatal(err)
		}
		if err := g.Remove(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLaunchTrue compares a bare fork/exec of /bin/true with the same
// launch in its own limited cgroup (New, placed at clone time through FD
// where there is a v2 group, JoinV1, Wait, Remove). The real init stage joins
// before exec; here /bin/true may already have exited when JoinV1 runs.
func BenchmarkLaunchTrue(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cgroup", func(b *testing.B) {
		m := liveManager(b)
		s := m.Support()
		l := Limits{}
		if s.Memory {
			l.MemoryBytes = 256 << 20
		}
		if s.Pids {
			l.Pids = 64
		}
		if s.CPU {
			l.CPUPercent = 100
		}
		for i := 0; b.Loop(); i++ {
			g, err := m.New("true-"+strconv.Itoa(i), l)
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command("/bin/true")
			fd := -1
			if s.Version != "v1" {
				if fd, err = g.FD(); err != nil {
					b.Fatal(err)
				}
				cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
			}
			err = cmd.Start()
			if fd >= 0 {
				syscall.Close(fd)
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := g.JoinV1(cmd.Process.Pid); err != nil && !errors.Is(err, syscall.ESRCH) {
				b.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
			if err := g.Remove(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A server whose pid was a dead server's finds that server's groups under
// its parent: they are stale (their owner is gone). A launch group with a
// leftover's name is created anyway, and the leftover's process is killed.
func TestLiveStaleGroupsOfADeadServerAreCleared(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live cgroup tests need root (cgroup directories are not writable)")
	}
	prefix := fmt.Sprintf("mcp-process-test-%d-%d", os.Getpid(), liveSeq.Add(1))
	dead, err := Detect(DetectOptions{Prefix: prefix})
	if err != nil || dead.Support().Version == "none" {
		t.Skipf("no writable cgroups here: %v", err)
	}
	g, err := dead.New("p-1-2", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	orphan := exec.Command("/bin/sleep", "300")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	defer orphan.Process.Kill()
	if err := g.Join(orphan.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// The dead server never closed its manager: same prefix, next server.
	m, err := Detect(DetectOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	g2, err := m.New("p-1-2", Limits{})
	if err != nil {
		t.Fatalf("a leftover group's name: %v", err)
	}
	defer g2.Remove()
	done := make(chan error, 1)
	go func() { done <- orphan.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stale group's process is still running")
	}
	dead.Close()
}

// The files read when a group's tree ends are open from New to Remove: the
// reads then open nothing, see each change (a read from the start
// regenerates the file), and Remove closes them, so groups made and removed
// leave no descriptor behind.
func TestLiveControlFilesOpenUntilRemove(t *testing.T) {
	m := liveManager(t)
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	g := newGroup(t, m, Limits{MemoryBytes: 64 << 20})
	g.mu.Lock()
	events, oom := g.eventsFD, g.oomFD
	g.mu.Unlock()
	if (g.v2 != "") != (events >= 0) || (g.mem != "") != (oom >= 0) {
		t.Fatalf("open control files: cgroup.events %d (v2 %q), OOM file %d (memory %q)", events, g.v2, oom, g.mem)
	}
	if pop, err := g.Populated(); err != nil || pop {
		t.Fatalf("an empty group: Populated = %v, %v", pop, err)
	}
	c := startGated(t, "sleep 30")
	if err := g.Join(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if pop, err := g.Populated(); err != nil || !pop {
		t.Fatalf("with a process: Populated = %v, %v", pop, err)
	}
	if n, err := g.OOMKills(); err != nil || n != 0 {
		t.Fatalf("OOMKills = %d, %v", n, err)
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if pop, err := g.Populated(); err != nil || pop {
		t.Fatalf("after Kill: Populated = %v, %v", pop, err)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	closed := g.eventsFD < 0 && g.oomFD < 0
	g.mu.Unlock()
	if !closed {
		t.Fatal("Remove left the group's control files open")
	}
	before := fds()
	for i := 0; i < 20; i++ {
		g, err := m.New(fmt.Sprintf("cycle-%d", i), Limits{MemoryBytes: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Remove(); err != nil {
			t.Fatal(err)
		}
	}
	if after := fds(); after > before {
		t.Fatalf("%d descriptors open before, %d after 20 groups made and removed", before, after)
	}
}
