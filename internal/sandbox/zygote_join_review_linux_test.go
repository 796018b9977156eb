//go:build linux

package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// Review of the zygote's child joining its own group (planJoin): the
// cgroup.procs descriptors the launcher opens are the server's
// credentials (the kernel checks a move against the opener's): a holder
// could move itself or any process the server could into the launch's
// group. These tests check no process but the joining child ever holds
// one past its join.

// procsFDs lists pid's descriptors that are a cgroup.procs file.
func procsFDs(t *testing.T, pid int) []string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var out []string
	for _, e := range ents {
		l, err := os.Readlink(dir + "/" + e.Name())
		if err == nil && strings.HasSuffix(l, "/cgroup.procs") {
			out = append(out, e.Name()+" -> "+l)
		}
	}
	return out
}

// At its gate the zygote's child holds no cgroup.procs descriptor (it
// closed each after its write), nor does the zygote once it answered,
// nor does the target, which runs in its group in every hierarchy.
// Both ways a child starts: sharing the zygote's memory, and forked (an
// environment above vmMaxExecStrings).
func TestZygoteJoinLeavesNoGroupDescriptor(t *testing.T) {
	needZygote(t)
	m := cgroupTestManager(t)
	for _, big := range []bool{false, true} {
		t.Run("forked="+strconv.FormatBool(big), func(t *testing.T) {
			l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Cgroups: m})
			defer l.Close()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			spec := specFor(t, "sh", "-c", `for f in /proc/self/fd/*; do echo "fd $(readlink $f)"; done; cat /proc/self/cgroup`)
			spec.Limits.MaxProcesses = 16
			if big {
				spec.Env = append(spec.Env, "PAD="+strings.Repeat("x", 80<<10))
			}
			p, err := l.Start(spec, Stdio{Stdout: w})
			w.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !p.forked {
				p.Abort()
				t.Fatal("not forked by the zygote")
			}
			g := p.Cgroup()
			if fds := procsFDs(t, p.Pid); len(fds) != 0 {
				p.Abort()
				t.Fatalf("the child at its gate holds %v", fds)
			}
			if zp := l.zygotePid(); zp != 0 {
				if fds := procsFDs(t, zp); len(fds) != 0 {
					p.Abort()
					t.Fatalf("the zygote holds %v after its answer", fds)
				}
			}
			if err := p.Release(); err != nil {
				t.Fatal(err)
			}
			out, _ := readAllClose(r)
			st := p.Wait()
			defer g.Remove()
			if st.ExitCode == nil || *st.ExitCode != 0 {
				t.Fatalf("target: %v\n%s", st, out)
			}
			if strings.Contains(out, "cgroup.procs") {
				t.Fatalf("the target holds a cgroup.procs descriptor:\n%s", out)
			}
			in := 0
			for _, line := range strings.Split(out, "\n") {
				if strings.HasSuffix(line, "/"+g.Name()) {
					in++
				}
			}
			if in != len(g.Paths()) {
				t.Fatalf("the target is in its group %s in %d hierarchies, want %d:\n%s", g.Name(), in, len(g.Paths()), out)
			}
		})
	}
}

func readAllClose(r *os.File) (string, error) {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), nil
		}
	}
}

// A zygote that fails once the launch's group is taken and its files are
// open (killed here, before the launch is sent): the launch is retried
// on a new zygote with a new group, the first group is removed, and
// nothing is left once the launcher is closed.
func TestZygoteRetryDropsItsFirstGroup(t *testing.T) {
	needZygote(t)
	m := cgroupTestManager(t)
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Cgroups: m})
	defer l.Close()
	spec := specFor(t, "true")
	// A zygote running first, to be killed.
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	p.Release()
	p.Wait()
	p.Cgroup().Remove()
	old := l.zygotePid()
	if old == 0 {
		t.Fatal("no zygote")
	}
	var first []string
	l.beforeAsk = func(g *cgroup.Group) {
		if first != nil {
			return
		}
		first = g.Paths()
		syscall.Kill(old, syscall.SIGKILL)
		for i := 0; i < 200; i++ { // dead (a zombie until stop reaps it): its socket is closed
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(old) + "/stat")
			if f := strings.Fields(string(b)); len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	p, err = l.Start(spec, Stdio{})
	l.beforeAsk = nil
	if err != nil {
		t.Fatalf("the retry on a new zygote: %v", err)
	}
	if !p.forked || l.zygotePid() == old {
		p.Abort()
		t.Fatalf("forked %v, zygote %d (the killed one %d)", p.forked, l.zygotePid(), old)
	}
	g := p.Cgroup()
	if slices.Equal(g.Paths(), first) {
		p.Abort()
		t.Fatal("the retry reused the first try's group")
	}
	for _, d := range first {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			p.Abort()
			t.Fatalf("the first try's group %s is left (%v)", d, err)
		}
	}
	procs, _ := g.Procs()
	if !slices.Contains(procs, p.Pid) {
		p.Abort()
		t.Fatalf("the child %d is not in its group: %v", p.Pid, procs)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	g.Remove()
	l.Close()
	if left := groupDirs(m); len(left) != 0 {
		t.Fatalf("groups left: %v", left)
	}
}

// A child that a failed zygote forked may still hold the dropped group's
// cgroup.procs files: its join of a removed group fails (the kernel
// refuses a write to a dead cgroup's file), and it stays where it was.
func TestLateJoinOfADroppedGroupFails(t *testing.T) {
	m := cgroupTestManager(t)
	lc := newLaunchCgroups(m)
	g, files, err := lc.forChild(specFor(t, "true").Limits)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFiles(files)
	dropGroup(g)
	for _, d := range g.Paths() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Fatalf("%s left (%v)", d, err)
		}
	}
	script := ""
	for i := range files {
		script += "echo 0 >&" + strconv.Itoa(3+i) + " && echo joined" + strconv.Itoa(i) + "; "
	}
	cmd := exec.Command("sh", "-c", script+"cat /proc/self/cgroup")
	cmd.ExtraFiles = files
	out, _ := cmd.CombinedOutput()
	if strings.Contains(string(out), "joined") || strings.Contains(string(out), "/"+g.Name()) {
		t.Fatalf("a late join of the removed group %s succeeded:\n%s", g.Name(), out)
	}
}

// A launch record that fails at once (the child may not even have its
// session yet) leaves no child and no group, again and again.
func TestZygoteRecordFailsAtOnceLeavesNothing(t *testing.T) {
	needZygote(t)
	m := cgroupTestManager(t)
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Cgroups: m})
	defer l.Close()
	mark := filepath.Join(hostDir(t), "ran")
	spec := specFor(t, "touch", mark)
	spec.Limits.MaxProcesses = 8
	recErr := errors.New("disk full")
	for i := 0; i < 40; i++ {
		pid := 0
		p, err := l.StartRecorded(spec, Stdio{}, func(n int) error { pid = n; return recErr })
		if err != recErr || p != nil {
			t.Fatalf("launch %d: %v, %v; want the record's error", i, p, err)
		}
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			t.Fatalf("launch %d: child %d still there (%v)", i, pid, err)
		}
		for _, d := range groupDirs(m) { // the pool's fresh groups, and no launch's
			if b, err := os.ReadFile(d + "/cgroup.procs"); err == nil && len(b) != 0 {
				t.Fatalf("launch %d: %s holds %q", i, d, b)
			}
		}
	}
	l.Close() // the pooled groups go too: any group left is a launch's
	if left := groupDirs(m); len(left) != 0 {
		t.Fatalf("groups left: %v", left)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := os.Stat(mark); !os.IsNotExist(err) {
		t.Fatalf("a target ran (%v)", err)
	}
}

// An unprivileged server with a delegated subtree (run as a non-root uid,
// in groups of every hierarchy that uid owns, with
// MCP_PROCESS_TEST_DELEGATED_CGROUP=1): the zygote's child joins its
// group with the descriptors the server opened, in every hierarchy, as
// the server's own move did.
func TestZygoteJoinDelegatedUnprivileged(t *testing.T) {
	needZygote(t)
	if os.Geteuid() == 0 || os.Getenv("MCP_PROCESS_TEST_DELEGATED_CGROUP") != "1" {
		t.Skip("run as a non-root uid in a delegated cgroup, with MCP_PROCESS_TEST_DELEGATED_CGROUP=1")
	}
	m, err := cgroup.Detect(cgroup.DetectOptions{Prefix: "mcp-process-sbtest-deleg-" + strconv.Itoa(os.Getpid())})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !newLaunchCgroups(m).enabled() {
		t.Fatalf("no usable delegated hierarchy: %+v", m.Support())
	}
	t.Logf("support: %+v", m.Support())
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Cgroups: m})
	defer l.Close()
	r, w, _ := os.Pipe()
	defer r.Close()
	spec := specFor(t, "cat", "/proc/self/cgroup")
	spec.Limits.MaxProcesses = 4
	spec.Limits.MaxMemoryMB = 1
	p, err := l.Start(spec, Stdio{Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !p.forked {
		p.Abort()
		t.Fatal("not forked by the zygote")
	}
	g := p.Cgroup() // (its descriptors: non-dumpable, not ours to read here; the root test checks them)
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	out, _ := readAllClose(r)
	p.Wait()
	defer g.Remove()
	in := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, "/"+g.Name()) {
			in++
		}
	}
	if in != len(g.Paths()) {
		t.Fatalf("the target is in %s in %d hierarchies, want %d:\n%s", g.Name(), in, len(g.Paths()), out)
	}
	t.Logf("%s", out)
}

// A launch the zygote hands back (errFallback) after the launcher took a
// group and opened its files: that group is removed at once (no child
// joined it), the stage's own group holds the stage, and nothing is left
// once the launcher is closed.
func TestZygoteFallbackDropsTheTakenGroup(t *testing.T) {
	needZygote(t)
	m := cgroupTestManager(t)
	spec := specFor(t, "true")
	iso := fallbackIsolation(t, spec)
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Isolation: iso, Cgroups: m})
	defer l.Close()
	var taken []string
	l.beforeAsk = func(g *cgroup.Group) { taken = g.Paths() }
	p, err := l.Start(spec, Stdio{})
	l.beforeAsk = nil
	if err != nil {
		t.Fatal(err)
	}
	if p.forked || taken == nil {
		p.Abort()
		t.Fatalf("forked %v, group taken for the zygote %v: want a fallback after a group was taken", p.forked, taken)
	}
	for _, d := range taken {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			p.Abort()
			t.Fatalf("the group taken for the zygote, %s, is left (%v)", d, err)
		}
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	p.Cgroup().Remove()
	l.Close()
	if left := groupDirs(m); len(left) != 0 {
		t.Fatalf("groups left: %v", left)
	}
}

// A namespace that is not prepared (unshare(CLONE_NEWNS): a copy of every
// mount of the host, each charged to the memory cgroup of the copier) is
// made before the child joins its group (planJoin): on a host with a few
// thousand mounts that copy is over 1 MiB, a limit any agent may ask for,
// and charged to the launch's group it failed the launch (cgroup v1) or,
// on cgroup v2 with memory.oom.group, would have OOM-killed every process
// sharing the child's memory: the zygote and other launches' children
// (review finding; the join came first then). A launch with maxMemoryMB 1
// runs. Run in a mount namespace of its own with mountsForTest tmpfs
// mounts.
func TestZygoteSmallMemoryLimitManyMounts(t *testing.T) {
	needZygote(t)
	if os.Getenv("MCP_PROCESS_TEST_MANY_MOUNTS") != "1" {
		needRoot(t)
		exe, _ := os.Executable()
		cmd := exec.Command(exe, "-test.run", "^TestZygoteSmallMemoryLimitManyMounts$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "MCP_PROCESS_TEST_MANY_MOUNTS=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes every mount private there
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	m := cgroupTestManager(t)
	if !m.Support().Memory {
		t.Skip("no memory controller")
	}
	base := filepath.Join(hostDir(t), "mounts")
	const mountsForTest = 3000
	for i := 0; i < mountsForTest; i++ {
		d := filepath.Join(base, strconv.Itoa(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("t", d, "tmpfs", 0, "size=4k"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Unmount(d, syscall.MNT_DETACH) }) // before hostDir's removal
	}
	work := hostDir(t)
	iso, err := IsolationFor(config.BuiltinDefault(work))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Isolation: iso, Cgroups: m})
	defer l.Close()
	mark := filepath.Join(work, "ran")
	spec := specFor(t, "touch", mark)
	spec.Dir = work
	spec.Limits.MaxMemoryMB = 1
	// The first launch has no prepared mount namespace: its child unshares,
	// before it joins its group, so the copy of the host's mounts is not
	// the launch's to pay for.
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatalf("launch with maxMemoryMB 1 and %d mounts: %v", mountsForTest, err)
	}
	g := p.Cgroup()
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("target: %v", st)
	}
	g.Remove()
	if _, err := os.Stat(mark); err != nil {
		t.Fatalf("the target did not run: %v", err)
	}
}
