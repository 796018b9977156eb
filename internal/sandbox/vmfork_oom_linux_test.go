//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// A launch whose exec takes its memory group over its limit loses only its
// own child. Its exec copies its arguments and environment into the
// target's new memory, charged to the launch's group, before the child
// lets go of the zygote's memory; if the child then still shared it, the
// kernel's OOM killer would kill every process sharing the victim's memory:
// the zygote and the other launches' children at their gates. The group
// here has the kernel's own OOM killer, as a launch's group has on cgroup
// v2 (memory.max, memory.oom.group); on v1 the server holds it and the exec
// fails with ENOMEM instead.
func TestZygoteExecOverMemoryLimitKillsOnlyItsChild(t *testing.T) {
	needZygote(t)
	if !stage.VMForkSupported {
		t.Skip("the zygote forks on this architecture")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: it makes a memory cgroup")
	}
	group, procs := oomGroup(t, 1<<20)
	l := NewLauncher(LauncherOptions{Stage: StageZygote})
	defer l.Close()
	other, err := l.Start(specFor(t, "/bin/true"), Stdio{}) // waits at its gate
	if err != nil {
		t.Fatal(err)
	}
	defer other.Abort()
	zpid := l.zygotePid()
	big := specFor(t, "/bin/true")
	for i := range 12 { // 1.5 MiB of environment: over the group's 1 MiB
		big.Env = append(big.Env, fmt.Sprintf("BIG%d=%s", i, strings.Repeat("x", 120<<10)))
	}
	p, err := l.Start(big, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if !p.forked {
		t.Fatal("the launch was not served by the zygote")
	}
	if err := os.WriteFile(procs, []byte(strconv.Itoa(p.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	p.Release()
	if st := p.Wait(); st.ExitCode != nil && *st.ExitCode == 0 {
		t.Fatalf("the launch over its memory limit ran: %+v (is %s limited?)", st, group)
	}
	if st := zygoteState(zpid); st != "S" && st != "R" {
		t.Fatalf("the zygote %d is %q after another launch's OOM kill: it was killed with it", zpid, st)
	}
	if err := other.Release(); err != nil {
		t.Fatalf("the launch waiting at its gate: %v", err)
	}
	if st := other.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("the launch waiting at its gate ended %+v: killed with the zygote", st)
	}
	if l.zygotePid() != zpid {
		t.Fatal("the zygote was restarted")
	}
}

// oomGroup makes a memory cgroup limited to limit bytes whose OOM killer
// is the kernel's, and returns it and its cgroup.procs.
func oomGroup(t *testing.T, limit int) (string, string) {
	t.Helper()
	lim := strconv.Itoa(limit)
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		g := fmt.Sprintf("/sys/fs/cgroup/memory/mcp-test-oom-%d", os.Getpid())
		if err := os.Mkdir(g, 0o755); err != nil {
			t.Skip(err)
		}
		t.Cleanup(func() { syscall.Rmdir(g) })
		if err := os.WriteFile(g+"/memory.limit_in_bytes", []byte(lim), 0); err != nil {
			t.Fatal(err)
		}
		return g, g + "/cgroup.procs"
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.subtree_control"); err == nil && strings.Contains(string(b), "memory") {
		g := fmt.Sprintf("/sys/fs/cgroup/mcp-test-oom-%d", os.Getpid())
		if err := os.Mkdir(g, 0o755); err != nil {
			t.Skip(err)
		}
		t.Cleanup(func() { syscall.Rmdir(g) })
		for f, v := range map[string]string{"memory.max": lim, "memory.oom.group": "1"} {
			if err := os.WriteFile(g+"/"+f, []byte(v), 0); err != nil {
				t.Fatal(err)
			}
		}
		return g, g + "/cgroup.procs"
	}
	t.Skip("no memory cgroup controller to make a group with")
	return "", ""
}

// zygoteState is the state letter of /proc/PID/stat ("" if gone).
func zygoteState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}
