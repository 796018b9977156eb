package policy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
)

// BenchmarkEvaluate is the policy decision for a typical request: an
// allowlisted executable found on the search path (after a miss in its
// first directory), three arguments, a working directory, two environment
// variables, default limits. The performance target is a median under
// 20 µs (docs/performance.md). Besides the mean (ns/op) it reports the
// median of the last calls timed one by one (p50-ns) and the process's CPU
// time per call (cpu-ns/op: user and system, which a busy machine disturbs
// less than the wall time).
func BenchmarkEvaluate(b *testing.B) {
	work := b.TempDir()
	cfg := config.Defaults()
	cfg.AllowedExecutables = []string{"/bin/echo", "/usr/bin/echo"}
	cfg.AllowedWorkingDirectories = []string{work}
	p, err := New(cfg, WithHomes(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Agent: "bench", Executable: "echo", Args: []string{"hello", "--flag", "world"}, Cwd: work,
		Env: map[string]string{"LANG": "C.UTF-8", "CI": "1"}}
	now := time.Now()
	if d := p.Evaluate(req, now); !d.Allow {
		b.Fatalf("the request is denied: %v", d.Err)
	}
	loopTimed(b, func() { p.Evaluate(req, now) })
}

// BenchmarkEvaluateThroughSymlink is BenchmarkEvaluate for an executable
// and a working directory each reached through a symbolic link (as
// python3 -> python3.11): what a path with a symlink costs.
func BenchmarkEvaluateThroughSymlink(b *testing.B) {
	top := b.TempDir()
	work, bin := filepath.Join(top, "work"), filepath.Join(top, "bin")
	for _, d := range []string{work, bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.Symlink("/usr/bin/echo", filepath.Join(bin, "tool")); err != nil {
		b.Fatal(err)
	}
	if err := os.Symlink(work, filepath.Join(top, "worklink")); err != nil {
		b.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.SearchPath = bin
	cfg.AllowedExecutables = []string{"/usr/bin/echo"}
	cfg.AllowedWorkingDirectories = []string{work}
	p, err := New(cfg, WithHomes(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Agent: "bench", Executable: "tool", Args: []string{"hello", "--flag", "world"},
		Cwd: filepath.Join(top, "worklink"), Env: map[string]string{"LANG": "C.UTF-8", "CI": "1"}}
	now := time.Now()
	if d := p.Evaluate(req, now); !d.Allow {
		b.Skipf("the request is denied (no /usr/bin/echo?): %v", d.Err)
	}
	loopTimed(b, func() { p.Evaluate(req, now) })
}

// loopTimed runs f in b.Loop and reports, beside the mean, the median of
// the last calls timed one by one (p50-ns) and the process's CPU time per
// call (cpu-ns/op).
func loopTimed(b *testing.B, f func()) {
	var laps [4096]time.Duration // the last calls, without allocating
	n := 0
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		t0 := time.Now()
		f()
		laps[n%len(laps)] = time.Since(t0)
		n++
	}
	cpu = cpuTime() - cpu
	got := slices.Clone(laps[:min(n, len(laps))])
	slices.Sort(got)
	b.ReportMetric(float64(got[len(got)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
}
