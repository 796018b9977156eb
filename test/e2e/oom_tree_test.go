package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A tree over maxMemoryMB goes down as one, whatever cgroup version: three
// children of 40 MB under 64 MB. On cgroup v1 the kernel's OOM killer used
// to kill one of them and the others finished (markers written, exit 0,
// reason "exited"); now none finishes and the exit says memory-limit.
func TestMemoryLimitKillsTheWholeTree(t *testing.T) {
	t.Parallel()
	rlRequireCgroupfs(t)
	needPython(t)
	e := newEnv(t)
	s := startServer(t, e, rlConfig(e, python))
	limits := rlLimits(map[string]any{"maxMemoryMB": 64})
	rlRequire(t, s, limits, "maxMemoryMB")
	marks := filepath.Join(e.work, "marks")
	if err := os.Mkdir(marks, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(marks, 0o777) // the children's identity writes here
	tree := e.pyScript(t, "oomtree", `import subprocess, sys
child = "import sys, time\nb = b'x' * (40 << 20)\ntime.sleep(2)\nopen(sys.argv[1], 'w').write('survived')"
ps = [subprocess.Popen([sys.executable, "-c", child, "`+marks+`/done-%d" % i]) for i in range(3)]
sys.exit(max(p.wait() for p in ps) and 0)`)
	var r runResult
	s.ok("process_run", map[string]any{"executable": python, "args": []string{tree}, "resourceLimits": limits, "waitTimeout": 30000}, &r)
	if r.ExitCode != nil && *r.ExitCode == 0 || r.TerminationReason != "memory-limit" {
		t.Errorf("the tree ended with exit %v signal %q reason %q, want memory-limit\nstderr %q", r.ExitCode, r.Signal, r.TerminationReason, r.Stderr)
	}
	time.Sleep(3 * time.Second) // a survivor would write its marker now
	if left, _ := filepath.Glob(filepath.Join(marks, "*")); len(left) != 0 {
		t.Errorf("processes of the tree went on after the OOM: %v", left)
	}
}
