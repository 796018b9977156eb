//go:build linux

package sandbox

import (
	"os/exec"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
)

// BenchmarkBareExec is the baseline: os/exec of /bin/true, no sandbox.
func BenchmarkBareExec(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageExec is a launch through the init stage, with rlimits:
// Start, Release, Wait of /bin/true. It also reports the three phases:
// start-ns (fork + stage runtime + steps, until the stage waits at its
// gate), release-ns (go → target exec'd) and wait-ns (the target runs and
// is reaped).
func BenchmarkStageExec(b *testing.B) {
	l := NewLauncher()
	defer l.Close()
	spec := specFor(b, "/bin/true")
	spec.Limits = config.ResourceLimits{MaxFileDescriptors: 256, MaxCpuTime: 10}
	var start, release, wait time.Duration
	for b.Loop() {
		t0 := time.Now()
		p, err := l.Start(spec, Stdio{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := p.Release(); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
			b.Fatalf("exit %v", st)
		}
		t3 := time.Now()
		start, release, wait = start+t1.Sub(t0), release+t2.Sub(t1), wait+t3.Sub(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(start.Nanoseconds())/n, "start-ns")
	b.ReportMetric(float64(release.Nanoseconds())/n, "release-ns")
	b.ReportMetric(float64(wait.Nanoseconds())/n, "wait-ns")
}
