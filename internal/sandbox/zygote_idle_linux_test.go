package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
)

// zygoteSwitches sums the context switches of every thread of pid.
func zygoteSwitches(t *testing.T, pid int) int {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of zygote %d: %v", pid, err)
	}
	n := 0
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread gone meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}

// TestIdleZygoteSleeps: a zygote waiting for its next launch is not woken
// while no launch comes, with the namespace made ahead (a private view:
// its wait also watches the mount table) and without it. Its wait is
// known to the Go runtime as blocking: before, a wait in a raw call left
// the zygote "running" to the runtime's monitor, which preempted it every
// 10 ms (200 wake-ups a second of an idle server's zygote, measured).
func TestIdleZygoteSleeps(t *testing.T) {
	needZygote(t)
	cases := map[string]Isolation{"plain": {}}
	if os.Geteuid() == 0 {
		iso, err := IsolationFor(config.BuiltinDefault(t.TempDir()))
		if err != nil {
			t.Logf("the default profile cannot be enforced here (%v): its case is skipped", err)
		} else {
			cases["default profile"] = iso
		}
	}
	for name, iso := range cases {
		t.Run(name, func(t *testing.T) {
			l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: iso})
			defer l.Close()
			spec := specFor(t, "/bin/true")
			spec.Dir = "/"
			p, err := l.Start(spec, Stdio{})
			if err != nil {
				t.Fatal(err)
			}
			forked := p.forked
			if err := p.Release(); err != nil {
				t.Fatal(err)
			}
			p.Wait()
			if !forked {
				t.Fatal("not forked by the zygote")
			}
			z := l.zygotePid()
			waitZygoteAwaitsLaunch(t, z)
			time.Sleep(100 * time.Millisecond) // the preparation's last steps, the runtime's monitor settling
			before := zygoteSwitches(t, z)
			time.Sleep(time.Second)
			if woken := zygoteSwitches(t, z) - before; woken > 20 {
				t.Fatalf("an idle zygote was woken %d times in a second (want next to none)", woken)
			}
			// And it still serves the next launch.
			out, st := runAll(t, l, specFor(t, "/bin/echo", "served"))
			exitOK(t, out, st)
			if !strings.Contains(out, "served") {
				t.Fatalf("the launch after the idle second printed %q", out)
			}
		})
	}
}
